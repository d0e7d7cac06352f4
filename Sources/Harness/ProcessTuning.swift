import Foundation

/// Settings the native libraries read from the environment only when they load, which `vipbench`
/// sets for itself (running itself again when one is unset) and every run records.
public enum ProcessTuning {
    /// Name, value and why. Each measured on this 2-core machine (README, "The engine").
    public static let settings: [(name: String, value: String, why: String)] = [
        ("OPENBLAS_THREAD_TIMEOUT", "4",
         "idle OpenBLAS threads sleep at once instead of spinning in sched_yield against the engine's own loops"),
        ("GOMP_SPINCOUNT", "10000",
         "OpenMP threads (oneDNN's and the engine's loops) wait briefly for the next loop, then sleep, instead of spinning for about a millisecond against OpenBLAS's threads and the loader's"),
        ("MALLOC_MMAP_MAX_", "0",
         "large tensors come from the heap, not fresh mmaps that the kernel must clear on every step"),
        ("MALLOC_TRIM_THRESHOLD_", "17179869184",
         "freed heap memory is kept for the next step instead of being returned and faulted in again"),
        ("MALLOC_ARENA_MAX", "1",
         "one heap for all threads, so memory freed by a worker serves the main thread"),
    ]

    /// The settings missing from this environment.
    public static var missing: [(name: String, value: String)] {
        let env = ProcessInfo.processInfo.environment
        return settings.filter { env[$0.name] == nil }.map { ($0.name, $0.value) }
    }

    /// Names the tool set for itself (not the user), kept in this variable across the re-run.
    public static let markerVariable = "VIPBENCH_TUNED"

    /// This process's environment without the settings the tool set for itself: for the other
    /// programs it runs (OpenCV through Python, ffmpeg, gnuplot), which must run as they would
    /// on their own, above all when they are the baseline of a benchmark.
    public static var untunedEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for name in (env[markerVariable] ?? "").split(separator: ",") { env.removeValue(forKey: String(name)) }
        env.removeValue(forKey: markerVariable)
        return env
    }

    /// "NAME=value ..." for the settings in effect (whoever set them).
    public static var inEffect: String {
        let env = ProcessInfo.processInfo.environment
        return settings.compactMap { s in env[s.name].map { "\(s.name)=\($0)" } }.joined(separator: " ")
    }
}
