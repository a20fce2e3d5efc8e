// Tests for adk::InMemoryArtifactService: versions, scopes, listing,
// deletion and bad input.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "adk/artifacts.hpp"
#include "aio/run.hpp"
#include "support.hpp"

using adk::Json;
using adk::Part;

namespace {

Part blob(std::string mime, std::string base64) {
    Part p;
    p.inline_data = adk::Blob{std::move(mime), std::move(base64)};
    return p;
}

/// The text of a loaded part ("<none>" if nothing was loaded).
std::string text_of(const std::optional<Part>& p) {
    if (!p) return "<none>";
    return p->text.value_or("<no text>");
}

/// What `co_await body` raised as std::invalid_argument ("" if nothing).
template <class T>
aio::Coro<std::string> invalid_argument_of(aio::Coro<T> body) {
    std::string message;
    try {
        co_await std::move(body);
    } catch (const std::invalid_argument& e) {
        message = e.what();
    }
    co_return message;
}

}  // namespace

TEST(AdkArtifacts, EverySaveIsANewVersion) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemoryArtifactService artifacts;
        int v0 = co_await artifacts.save_artifact("app", "u", "s", "report.txt", Part::from_text("draft"));
        int v1 = co_await artifacts.save_artifact("app", "u", "s", "report.txt", Part::from_text("final"));
        int other = co_await artifacts.save_artifact("app", "u", "s", "image.png", blob("image/png", "iVBORw0KGgo="));
        EXPECT_EQ(v0, 0);
        EXPECT_EQ(v1, 1);
        EXPECT_EQ(other, 0);  // versions count per file
        std::optional<Part> latest = co_await artifacts.load_artifact("app", "u", "s", "report.txt");
        EXPECT_EQ(text_of(latest), "final");
        std::optional<Part> first = co_await artifacts.load_artifact("app", "u", "s", "report.txt", 0);
        EXPECT_EQ(text_of(first), "draft");
        std::optional<Part> image = co_await artifacts.load_artifact("app", "u", "s", "image.png");
        CO_ASSERT_TRUE(image && image->inline_data);
        EXPECT_EQ(image->inline_data->mime_type, "image/png");
        EXPECT_EQ(Json(*image), Json::parse(R"({"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}})"));
        std::vector<int> versions = co_await artifacts.list_versions("app", "u", "s", "report.txt");
        EXPECT_EQ(versions, (std::vector<int>{0, 1}));
    });
}

TEST(AdkArtifacts, UnknownFilesAndVersionsAreAbsentNotErrors) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemoryArtifactService artifacts;
        co_await artifacts.save_artifact("app", "u", "s", "a.txt", Part::from_text("a"));
        std::optional<Part> missing_version = co_await artifacts.load_artifact("app", "u", "s", "a.txt", 1);
        EXPECT_FALSE(missing_version.has_value());
        std::optional<Part> missing_file = co_await artifacts.load_artifact("app", "u", "s", "b.txt");
        EXPECT_FALSE(missing_file.has_value());
        std::optional<Part> other_session = co_await artifacts.load_artifact("app", "u", "s2", "a.txt");
        EXPECT_FALSE(other_session.has_value());
        std::optional<Part> other_user = co_await artifacts.load_artifact("app", "u2", "s", "a.txt");
        EXPECT_FALSE(other_user.has_value());
        std::vector<int> none = co_await artifacts.list_versions("app", "u", "s", "b.txt");
        EXPECT_TRUE(none.empty());
        co_await artifacts.delete_artifact("app", "u", "s", "b.txt");      // nothing to delete: fine
        co_await artifacts.delete_artifact("other", "u", "s", "b.txt");    // unknown app: fine
        std::vector<std::string> nothing = co_await artifacts.list_artifact_keys("other", "u", "s");
        EXPECT_TRUE(nothing.empty());
    });
}

TEST(AdkArtifacts, UserScopedFilesAreSharedAcrossTheUsersSessions) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemoryArtifactService artifacts;
        co_await artifacts.save_artifact("app", "u", "s1", "user:profile.json", Part::from_text("v0"));
        int v = co_await artifacts.save_artifact("app", "u", "s2", "user:profile.json", Part::from_text("v1"));
        EXPECT_EQ(v, 1);  // the same artifact, whichever session saves it
        std::optional<Part> from_s3 = co_await artifacts.load_artifact("app", "u", "s3", "user:profile.json");
        EXPECT_EQ(text_of(from_s3), "v1");
        std::optional<Part> other_user = co_await artifacts.load_artifact("app", "u2", "s1", "user:profile.json");
        EXPECT_FALSE(other_user.has_value());
        // A session named "user" is not the user scope (ADK's path keys collide there).
        co_await artifacts.save_artifact("app", "u", "user", "profile.json", Part::from_text("session file"));
        std::optional<Part> scoped = co_await artifacts.load_artifact("app", "u", "s1", "user:profile.json");
        EXPECT_EQ(text_of(scoped), "v1");
        std::vector<int> versions = co_await artifacts.list_versions("app", "u", "any", "user:profile.json");
        EXPECT_EQ(versions, (std::vector<int>{0, 1}));
    });
}

TEST(AdkArtifacts, ListingGivesTheSessionsAndTheUsersFilesSorted) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemoryArtifactService artifacts;
        co_await artifacts.save_artifact("app", "u", "s1", "zeta.txt", Part::from_text("z"));
        co_await artifacts.save_artifact("app", "u", "s1", "alpha.txt", Part::from_text("a"));
        co_await artifacts.save_artifact("app", "u", "s1", "alpha.txt", Part::from_text("a2"));
        co_await artifacts.save_artifact("app", "u", "s2", "beta.txt", Part::from_text("b"));
        co_await artifacts.save_artifact("app", "u", "s2", "user:notes.md", Part::from_text("n"));
        co_await artifacts.save_artifact("app", "u2", "s1", "user:other.md", Part::from_text("o"));
        std::vector<std::string> s1 = co_await artifacts.list_artifact_keys("app", "u", "s1");
        EXPECT_EQ(s1, (std::vector<std::string>{"alpha.txt", "user:notes.md", "zeta.txt"}));
        std::vector<std::string> s2 = co_await artifacts.list_artifact_keys("app", "u", "s2");
        EXPECT_EQ(s2, (std::vector<std::string>{"beta.txt", "user:notes.md"}));
        std::vector<std::string> user_only = co_await artifacts.list_artifact_keys("app", "u", "");
        EXPECT_EQ(user_only, (std::vector<std::string>{"user:notes.md"}));
    });
}

TEST(AdkArtifacts, DeleteRemovesEveryVersionAndNumberingRestarts) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemoryArtifactService artifacts;
        co_await artifacts.save_artifact("app", "u", "s", "a.txt", Part::from_text("1"));
        co_await artifacts.save_artifact("app", "u", "s", "a.txt", Part::from_text("2"));
        co_await artifacts.save_artifact("app", "u", "s", "user:b.txt", Part::from_text("b"));
        co_await artifacts.delete_artifact("app", "u", "s", "a.txt");
        std::optional<Part> gone = co_await artifacts.load_artifact("app", "u", "s", "a.txt", 0);
        EXPECT_FALSE(gone.has_value());
        std::vector<std::string> keys = co_await artifacts.list_artifact_keys("app", "u", "s");
        EXPECT_EQ(keys, (std::vector<std::string>{"user:b.txt"}));
        int again = co_await artifacts.save_artifact("app", "u", "s", "a.txt", Part::from_text("new"));
        EXPECT_EQ(again, 0);
        co_await artifacts.delete_artifact("app", "u", "other-session", "user:b.txt");  // user scope: any session
        std::vector<std::string> after = co_await artifacts.list_artifact_keys("app", "u", "s");
        EXPECT_EQ(after, (std::vector<std::string>{"a.txt"}));
    });
}

TEST(AdkArtifacts, BadInputIsInvalidArgument) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemoryArtifactService artifacts;
        co_await artifacts.save_artifact("app", "u", "s", "a.txt", Part::from_text("a"));
        std::string empty_name =
            co_await invalid_argument_of(artifacts.save_artifact("app", "u", "s", "", Part::from_text("x")));
        EXPECT_NE(empty_name.find("empty filename"), std::string::npos) << empty_name;
        std::string only_prefix =
            co_await invalid_argument_of(artifacts.save_artifact("app", "u", "s", "user:", Part::from_text("x")));
        EXPECT_NE(only_prefix.find("user:"), std::string::npos) << only_prefix;
        std::string no_app = co_await invalid_argument_of(artifacts.load_artifact("", "u", "s", "a.txt"));
        EXPECT_NE(no_app.find("empty app name"), std::string::npos) << no_app;
        std::string no_user = co_await invalid_argument_of(artifacts.list_versions("app", "", "s", "a.txt"));
        EXPECT_NE(no_user.find("empty user id"), std::string::npos) << no_user;
        std::string no_session = co_await invalid_argument_of(artifacts.delete_artifact("app", "u", "", "a.txt"));
        EXPECT_NE(no_session.find("empty session id"), std::string::npos) << no_session;
        std::string negative = co_await invalid_argument_of(artifacts.load_artifact("app", "u", "s", "a.txt", -1));
        EXPECT_NE(negative.find("negative version"), std::string::npos) << negative;
        // user-scoped files need no session
        int v = co_await artifacts.save_artifact("app", "u", "", "user:x", Part::from_text("x"));
        EXPECT_EQ(v, 0);
        // nothing was stored by the refused calls
        std::vector<int> versions = co_await artifacts.list_versions("app", "u", "s", "a.txt");
        EXPECT_EQ(versions, (std::vector<int>{0}));
    });
}

TEST(AdkArtifacts, UsableThroughTheAbstractInterface) {
    aio::run([]() -> aio::Coro<> {
        std::unique_ptr<adk::ArtifactService> service = std::make_unique<adk::InMemoryArtifactService>();
        int v = co_await service->save_artifact("app", "u", "s", "f", Part::from_text("x"));
        std::optional<Part> back = co_await service->load_artifact("app", "u", "s", "f");
        EXPECT_EQ(v, 0);
        EXPECT_EQ(text_of(back), "x");
        EXPECT_TRUE(adk::is_user_scoped_artifact("user:f"));
        EXPECT_FALSE(adk::is_user_scoped_artifact("users.txt"));
    });
}
