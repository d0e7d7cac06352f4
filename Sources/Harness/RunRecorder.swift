import Store

/// Wraps a piece of work in a run: recorded as `running` (with the machine, commit and command
/// line) before it starts, then `finished` or `failed` with the error. A process killed in between
/// leaves the run visibly unfinished.
public func withRun<T>(store: ResultsStore, configuration: String, profile: String, seed: Int? = nil,
                       machine: MachineInfo = .current(askToolchain: false),
                       _ body: (Int64) throws -> T) throws -> T {
    let id = try store.beginRun(configuration: configuration, profile: profile, seed: seed,
                                provenance: machine.provenance())
    do {
        let result = try body(id)
        try store.finishRun(id, status: .finished)
        return result
    } catch {
        try? store.finishRun(id, status: .failed, message: String(describing: error))
        throw error
    }
}
