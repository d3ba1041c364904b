// wavelog-load: the benchmark load generator (docs/adr/0006). One thread, one epoll loop, every socket.
import Glibc

do {
    let options = try LoadOptions.parse(Array(CommandLine.arguments.dropFirst()))
    signal(SIGPIPE, SIG_IGN)
    let report = LoadRun(options).run()
    print(report.json)
    exit(report.setupFailed ? 1 : 0)
} catch {
    if !error.message.isEmpty { Diagnostics.say(error.message) }
    Diagnostics.say(LoadOptions.usage)
    exit(error.message.isEmpty ? 0 : 2)
}
