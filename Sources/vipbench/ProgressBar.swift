import Foundation

/// A progress line on stderr: bar, count, rate and time left. Redraws in place on a terminal;
/// elsewhere (CI logs) it prints a line every 10 %.
final class ProgressBar: @unchecked Sendable {
    let total: Int
    let label: String
    let start = Date()
    let interactive = isatty(STDERR_FILENO) != 0
    private var lastDecile = -1
    private let lock = NSLock()

    init(total: Int, label: String) { self.total = total; self.label = label }

    func update(_ done: Int, detail: String = "") {
        guard Cluster.isRoot else { return }     // under mpirun, the first rank's bar stands for all
        lock.lock(); defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            + "\(done)/\(total) \(label)  " + String(format: "%.1f/s  ETA %.0fs", rate, eta) + (detail.isEmpty ? "" : "  " + detail)
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + (done == total ? "\n" : "")).utf8))
        } else {
            let decile = total > 0 ? 10 * done / total : 10
            if decile != lastDecile { lastDecile = decile; FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }
}
