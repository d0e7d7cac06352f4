import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock timing for benchmarks: a monotonic clock, repeated measurement, medians.
public enum Timing {
    /// Seconds on a monotonic clock.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Runs `body` once to warm up, then repeatedly until `minimumSeconds` have passed and at least
    /// `minimumRepeats` runs were made (at most `maximumRepeats`). Returns each run's seconds.
    public static func measure(minimumSeconds: Double = 0.5, minimumRepeats: Int = 3,
                               maximumRepeats: Int = 1000, _ body: () -> Void) -> [Double] {
        body()
        var times: [Double] = []
        let start = now()
        while times.count < maximumRepeats && (times.count < minimumRepeats || now() - start < minimumSeconds) {
            let t0 = now()
            body()
            times.append(now() - t0)
        }
        return times
    }

    public static func median(_ xs: [Double]) -> Double {
        precondition(!xs.isEmpty, "median of nothing")
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The process's peak resident set size in bytes (VmHWM), or nil where /proc is absent.
    public static func peakResidentBytes() -> Int? { status("VmHWM:") }

    /// Resets the peak counter that `peakResidentBytes` reads (Linux: "5" into /proc/self/clear_refs),
    /// so a measurement's peak is its own. False where that is not possible.
    public static func resetPeak() -> Bool {
        guard let fh = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? fh.close() }
        fh.write(Data("5".utf8))
        return true
    }

    /// The process's current resident set size in bytes (VmRSS).
    public static func residentBytes() -> Int? { status("VmRSS:") }

    static func status(_ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return statusBytes(key, in: text)
    }

    /// A "Key:<tab><padding>N kB" line of /proc/self/status, in bytes. The kernel pads the number
    /// with spaces to 8 digits, so from 10 GB on nothing but the tab stands before it.
    static func statusBytes(_ key: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let kb = line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// Hands the heap's free memory back to the system (glibc's malloc_trim, looked up at run time:
    /// other C libraries may lack it), so that a measurement's peak starts from what is in use
    /// rather than from what earlier work left cached. False where it is not available.
    @discardableResult
    public static func releaseFreedMemory() -> Bool {
        #if canImport(Glibc)
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(nil, "malloc_trim") else { return false }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
        return true
        #else
        return false
        #endif
    }
}
