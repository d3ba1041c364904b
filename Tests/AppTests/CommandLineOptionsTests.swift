// The command line keeps Go's flag syntax, so existing unit files work unchanged.
@testable import App
import Testing

struct CommandLineOptionsTests {
    @Test(arguments: [["-config", "/etc/w.yaml"], ["--config", "/etc/w.yaml"], ["-config=/etc/w.yaml"], ["--config=/etc/w.yaml"]])
    func acceptsEveryGoSpellingOfConfig(_ arguments: [String]) throws {
        let options = try CommandLineOptions.parse(arguments).get()
        #expect(options == CommandLineOptions(mode: .run, configPath: "/etc/w.yaml", configPathGiven: true))
    }

    @Test func defaultsToConfigYamlWithoutRequiringIt() throws {
        let options = try CommandLineOptions.parse([]).get()
        #expect(options.configPath == "config.yaml")
        #expect(!options.configPathGiven)
    }

    @Test func modes() throws {
        #expect(try CommandLineOptions.parse(["-check-config"]).get().mode == .checkConfig)
        #expect(try CommandLineOptions.parse(["--version"]).get().mode == .version)
        #expect(try CommandLineOptions.parse(["-h"]).get().mode == .help)
        // Booleans take Go's values after "=".
        #expect(try CommandLineOptions.parse(["-check-config=true"]).get().mode == .checkConfig)
        #expect(try CommandLineOptions.parse(["-check-config=false"]).get().mode == .run)
        #expect(try CommandLineOptions.parse(["-version=0", "-check-config=T"]).get().mode == .checkConfig)
    }

    @Test(arguments: [(["-config"], "flag needs an argument: -config"), (["-bogus"], "flag provided but not defined: -bogus"), (["extra"], "unknown command \"extra\""), (["run", "extra"], "unexpected argument \"extra\""),
        (["---config", "x"], "bad flag syntax: ---config"), (["-=x"], "bad flag syntax: -=x"),
        (["-check-config=maybe"], "invalid boolean value \"maybe\" for -check-config")])
    func refusesBadCommandLines(_ arguments: [String], _ message: String) {
        #expect(CommandLineOptions.parse(arguments) == .failure(UsageError(message)))
    }

    @Test func commandsAreAnOptionalFirstWord() throws {
        #expect(try CommandLineOptions.parse(["check-config", "-config", "/c.yaml"]).get()
            == CommandLineOptions(mode: .checkConfig, configPath: "/c.yaml", configPathGiven: true))
        #expect(try CommandLineOptions.parse(["gen-secret"]).get().mode == .genSecret)
        #expect(try CommandLineOptions.parse(["version"]).get().mode == .version)
        #expect(try CommandLineOptions.parse(["help"]).get().mode == .help)
        #expect(try CommandLineOptions.parse(["run", "--config=/c.yaml"]).get().configPath == "/c.yaml")
        #expect(try CommandLineOptions.parse(["probe"]).get().mode == .probe(url: "http://127.0.0.1:9000/readyz"))
        #expect(try CommandLineOptions.parse(["probe", "--url", "http://[::1]:9100/healthz"]).get().mode == .probe(url: "http://[::1]:9100/healthz"))
        #expect(try CommandLineOptions.parse(["token", "-help"]).get().mode == .help)
    }

    @Test func tokenTakesATopicAUserAndAGoDuration() throws {
        #expect(try CommandLineOptions.parse(["token", "--topic", "session.42", "-user=7", "-ttl", "1h30m"]).get().mode
            == .token(topic: "session.42", userID: 7, ttl: .seconds(5400)))
        #expect(try CommandLineOptions.parse(["token", "-topic=a"]).get().mode == .token(topic: "a", userID: 0, ttl: .seconds(3600)))
    }

    @Test(arguments: [
        (["token"], "token needs -topic"),
        (["token", "-topic", "a", "-ttl", "forever"], "invalid duration for -ttl: forever (like 90m or 1h30m)"),
        (["token", "-topic", "a", "-user", "-1"], "invalid user id for -user: -1"),
        (["frobnicate"], "unknown command \"frobnicate\""),
        (["gen-secret", "-topic", "a"], "flag provided but not defined: -topic"),
        (["version", "-echo-port", "1"], "flag provided but not defined: -echo-port"),
        (["-url", "x"], "flag provided but not defined: -url"),
    ])
    func refusesBadCommands(_ arguments: [String], _ message: String) {
        #expect(CommandLineOptions.parse(arguments) == .failure(UsageError(message)))
    }
}
