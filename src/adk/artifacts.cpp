// adk::InMemoryArtifactService (adk/artifacts.hpp).
#include "adk/artifacts.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace adk {

namespace {

/// The checks every call makes (see the header's "Bad input").
void check_key(const char* what, const std::string& app_name, const std::string& user_id,
               const std::string& session_id, const std::string& filename) {
    auto fail = [what](const std::string& why) { throw std::invalid_argument(std::string(what) + ": " + why); };
    if (app_name.empty()) fail("empty app name");
    if (user_id.empty()) fail("empty user id");
    if (filename.empty()) fail("empty filename");
    if (filename == kUserArtifactPrefix) fail("the filename '" + filename + "' has no name after the user: prefix");
    if (session_id.empty() && !is_user_scoped_artifact(filename))
        fail("empty session id for the session-scoped artifact '" + filename + "'");
}

}  // namespace

bool is_user_scoped_artifact(std::string_view filename) noexcept {
    return filename.substr(0, kUserArtifactPrefix.size()) == kUserArtifactPrefix;
}

const InMemoryArtifactService::Versions* InMemoryArtifactService::find(const std::string& app_name,
                                                                      const std::string& user_id,
                                                                      const std::string& session_id,
                                                                      const std::string& filename) const {
    auto a = apps_.find(app_name);
    if (a == apps_.end()) return nullptr;
    auto u = a->second.find(user_id);
    if (u == a->second.end()) return nullptr;
    const Files* files = &u->second.user_files;
    if (!is_user_scoped_artifact(filename)) {
        auto s = u->second.sessions.find(session_id);
        if (s == u->second.sessions.end()) return nullptr;
        files = &s->second;
    }
    auto f = files->find(filename);
    return f == files->end() ? nullptr : &f->second;
}

int InMemoryArtifactService::save_artifact_now(const std::string& app_name, const std::string& user_id,
                                               const std::string& session_id, const std::string& filename,
                                               Part artifact) {
    check_key("save_artifact", app_name, user_id, session_id, filename);
    UserArtifacts& user = apps_[app_name][user_id];
    Files& files = is_user_scoped_artifact(filename) ? user.user_files : user.sessions[session_id];
    Versions& versions = files[filename];
    versions.push_back(std::move(artifact));
    return static_cast<int>(versions.size()) - 1;
}

std::optional<Part> InMemoryArtifactService::load_artifact_now(const std::string& app_name,
                                                               const std::string& user_id,
                                                               const std::string& session_id,
                                                               const std::string& filename,
                                                               std::optional<int> version) const {
    check_key("load_artifact", app_name, user_id, session_id, filename);
    if (version && *version < 0)
        throw std::invalid_argument("load_artifact: negative version " + std::to_string(*version) + " of '" +
                                    filename + "'");
    const Versions* versions = find(app_name, user_id, session_id, filename);
    if (!versions || versions->empty()) return std::nullopt;
    if (!version) return versions->back();
    if (static_cast<std::size_t>(*version) >= versions->size()) return std::nullopt;
    return (*versions)[static_cast<std::size_t>(*version)];
}

std::vector<std::string> InMemoryArtifactService::list_artifact_keys_now(const std::string& app_name,
                                                                         const std::string& user_id,
                                                                         const std::string& session_id) const {
    if (app_name.empty()) throw std::invalid_argument("list_artifact_keys: empty app name");
    if (user_id.empty()) throw std::invalid_argument("list_artifact_keys: empty user id");
    std::vector<std::string> out;
    auto a = apps_.find(app_name);
    if (a == apps_.end()) return out;
    auto u = a->second.find(user_id);
    if (u == a->second.end()) return out;
    // Two sorted runs: "user:..." names sort together, so merging them keeps
    // the result sorted.
    std::vector<std::string> session_names;
    if (!session_id.empty())
        if (auto s = u->second.sessions.find(session_id); s != u->second.sessions.end())
            for (const auto& [name, versions] : s->second)
                if (!versions.empty()) session_names.push_back(name);
    std::vector<std::string> user_names;
    for (const auto& [name, versions] : u->second.user_files)
        if (!versions.empty()) user_names.push_back(name);
    out.reserve(session_names.size() + user_names.size());
    std::merge(session_names.begin(), session_names.end(), user_names.begin(), user_names.end(),
               std::back_inserter(out));
    return out;
}

void InMemoryArtifactService::delete_artifact_now(const std::string& app_name, const std::string& user_id,
                                                  const std::string& session_id, const std::string& filename) {
    check_key("delete_artifact", app_name, user_id, session_id, filename);
    auto a = apps_.find(app_name);
    if (a == apps_.end()) return;
    auto u = a->second.find(user_id);
    if (u == a->second.end()) return;
    if (is_user_scoped_artifact(filename)) {
        u->second.user_files.erase(filename);
        return;
    }
    auto s = u->second.sessions.find(session_id);
    if (s == u->second.sessions.end()) return;
    s->second.erase(filename);
    if (s->second.empty()) u->second.sessions.erase(s);
}

std::vector<int> InMemoryArtifactService::list_versions_now(const std::string& app_name, const std::string& user_id,
                                                            const std::string& session_id,
                                                            const std::string& filename) const {
    check_key("list_versions", app_name, user_id, session_id, filename);
    std::vector<int> out;
    if (const Versions* versions = find(app_name, user_id, session_id, filename))
        for (std::size_t i = 0; i < versions->size(); ++i) out.push_back(static_cast<int>(i));
    return out;
}

aio::Coro<int> InMemoryArtifactService::save_artifact(std::string app_name, std::string user_id,
                                                      std::string session_id, std::string filename, Part artifact) {
    co_return save_artifact_now(app_name, user_id, session_id, filename, std::move(artifact));
}

aio::Coro<std::optional<Part>> InMemoryArtifactService::load_artifact(std::string app_name, std::string user_id,
                                                                      std::string session_id, std::string filename,
                                                                      std::optional<int> version) {
    co_return load_artifact_now(app_name, user_id, session_id, filename, version);
}

aio::Coro<std::vector<std::string>> InMemoryArtifactService::list_artifact_keys(std::string app_name,
                                                                                std::string user_id,
                                                                                std::string session_id) {
    co_return list_artifact_keys_now(app_name, user_id, session_id);
}

aio::Coro<> InMemoryArtifactService::delete_artifact(std::string app_name, std::string user_id,
                                                     std::string session_id, std::string filename) {
    delete_artifact_now(app_name, user_id, session_id, filename);
    co_return;
}

aio::Coro<std::vector<int>> InMemoryArtifactService::list_versions(std::string app_name, std::string user_id,
                                                                   std::string session_id, std::string filename) {
    co_return list_versions_now(app_name, user_id, session_id, filename);
}

}  // namespace adk
