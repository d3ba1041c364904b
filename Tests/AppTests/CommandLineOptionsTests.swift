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
    }

    @Test(arguments: [(["-config"], "flag needs an argument: -config"), (["-bogus"], "flag provided but not defined: -bogus"), (["extra"], "unexpected argument \"extra\"")])
    func refusesBadCommandLines(_ arguments: [String], _ message: String) {
        #expect(CommandLineOptions.parse(arguments) == .failure(UsageError(message)))
    }
}
