// adk/artifacts.hpp — adk::ArtifactService (ADK's BaseArtifactService) and
// adk::InMemoryArtifactService: versioned blobs attached to a session.
//
//   adk::InMemoryArtifactService artifacts;
//   int v = co_await artifacts.save_artifact("app", "u1", "s1", "report.txt",
//                                             adk::Part::from_text("draft"));  // 0
//   std::optional<adk::Part> latest = co_await artifacts.load_artifact("app", "u1", "s1", "report.txt");
//
// An artifact is an adk::Part (text, inline data, a file reference...)
// stored under (app, user, session, filename). Every save adds a version:
// 0, 1, 2...; loading without a version gives the latest. A filename that
// starts with "user:" is user-scoped: one artifact shared by every session
// of that (app, user) — the session id is ignored for it.
//
// Bad input, the same for every backend:
//   - an empty app name, user id or filename, a filename that is only
//     "user:", or an empty session id for a session-scoped file:
//     std::invalid_argument (raised by the coroutine, when awaited);
//   - a negative version: std::invalid_argument;
//   - an unknown file or version: load_artifact gives nullopt,
//     list_versions an empty vector, delete_artifact does nothing.
// list_artifact_keys with an empty session id lists the user-scoped files
// only.
//
// Cancellation: the in-memory service never suspends, so a cancellation
// cannot interrupt it; a call either ran whole or did not start.
//
// Deviation from ADK: its in-memory service keys artifacts by the path
// "app/user/session/filename" and user-scoped ones by "app/user/user/
// filename", so a session whose id is "user" collides with the user scope;
// here the scopes are kept apart.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adk/content.hpp"
#include "aio/coro.hpp"

namespace adk {

/// ADK's BaseArtifactService; every method is a coroutine.
class ArtifactService {
public:
    virtual ~ArtifactService() = default;

    /// Stores `artifact` as the next version of `filename` and returns that
    /// version (0 for the first save, then 1, 2...).
    virtual aio::Coro<int> save_artifact(std::string app_name, std::string user_id, std::string session_id,
                                         std::string filename, Part artifact) = 0;
    /// The given version, or the latest without one; nullopt if the file or
    /// the version does not exist.
    virtual aio::Coro<std::optional<Part>> load_artifact(std::string app_name, std::string user_id,
                                                         std::string session_id, std::string filename,
                                                         std::optional<int> version = {}) = 0;
    /// The session's filenames and the user's "user:" filenames, sorted.
    virtual aio::Coro<std::vector<std::string>> list_artifact_keys(std::string app_name, std::string user_id,
                                                                   std::string session_id) = 0;
    /// Removes every version of `filename` (nothing if it does not exist);
    /// a later save starts again at version 0.
    virtual aio::Coro<> delete_artifact(std::string app_name, std::string user_id, std::string session_id,
                                        std::string filename) = 0;
    /// The versions of `filename`, ascending (empty if it does not exist).
    virtual aio::Coro<std::vector<int>> list_versions(std::string app_name, std::string user_id,
                                                      std::string session_id, std::string filename) = 0;
};

/// The prefix of user-scoped artifact filenames.
inline constexpr std::string_view kUserArtifactPrefix = "user:";

/// True if `filename` names a user-scoped artifact ("user:...").
bool is_user_scoped_artifact(std::string_view filename) noexcept;

/// Artifacts in memory. Not thread-safe: use it from one loop's thread.
class InMemoryArtifactService final : public ArtifactService {
public:
    aio::Coro<int> save_artifact(std::string app_name, std::string user_id, std::string session_id,
                                 std::string filename, Part artifact) override;
    aio::Coro<std::optional<Part>> load_artifact(std::string app_name, std::string user_id, std::string session_id,
                                                 std::string filename, std::optional<int> version = {}) override;
    aio::Coro<std::vector<std::string>> list_artifact_keys(std::string app_name, std::string user_id,
                                                           std::string session_id) override;
    aio::Coro<> delete_artifact(std::string app_name, std::string user_id, std::string session_id,
                                std::string filename) override;
    aio::Coro<std::vector<int>> list_versions(std::string app_name, std::string user_id, std::string session_id,
                                              std::string filename) override;

    // Synchronous forms of the above (the coroutines call these); same
    // validation and results.
    int save_artifact_now(const std::string& app_name, const std::string& user_id, const std::string& session_id,
                          const std::string& filename, Part artifact);
    std::optional<Part> load_artifact_now(const std::string& app_name, const std::string& user_id,
                                          const std::string& session_id, const std::string& filename,
                                          std::optional<int> version = {}) const;
    std::vector<std::string> list_artifact_keys_now(const std::string& app_name, const std::string& user_id,
                                                    const std::string& session_id) const;
    void delete_artifact_now(const std::string& app_name, const std::string& user_id, const std::string& session_id,
                             const std::string& filename);
    std::vector<int> list_versions_now(const std::string& app_name, const std::string& user_id,
                                       const std::string& session_id, const std::string& filename) const;

private:
    using Versions = std::vector<Part>;
    using Files = std::map<std::string, Versions>;  // filename -> versions
    struct UserArtifacts {
        Files user_files;                        // "user:..." files
        std::map<std::string, Files> sessions;  // session id -> its files
    };

    /// The versions of the file, or null (no allocation).
    const Versions* find(const std::string& app_name, const std::string& user_id, const std::string& session_id,
                         const std::string& filename) const;

    // app -> user -> artifacts
    std::map<std::string, std::map<std::string, UserArtifacts>> apps_;
};

}  // namespace adk
