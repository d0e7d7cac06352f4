import ArgumentParser
import Distributed
import Engine
import Foundation

/// The processes this run is part of: Open MPI's ranks when `mpirun` started it, else one process.
enum Cluster {
    /// Set by `main` before any command runs.
    nonisolated(unsafe) static var mpi: MPIWorld?

    static var world: Collective { mpi ?? SingleProcess() }
    static var isRoot: Bool { (mpi?.rank ?? 0) == 0 }

    /// Cores per process on this host: the machine's cores shared by the ranks placed on it, so
    /// ranks x threads does not oversubscribe it.
    static var coresPerProcess: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, mpi?.localSize ?? 1))
    }

    /// Default engine threads: 2 for a single process (the scaled profiles' setting), the host's
    /// share of the cores under mpirun.
    static var defaultThreads: Int { mpi == nil ? 2 : coresPerProcess }

    /// Says so (once, on the first rank) when the ranks on this host ask for more threads than it
    /// has cores.
    static func warnIfOversubscribed(threads: Int, workers: Int) {
        guard let mpi, mpi.localRank == 0 else { return }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if mpi.localSize * threads > cores {
            say("warning: \(mpi.localSize) processes x \(threads) engine threads on \(cores) cores oversubscribe this host (\(mpi.hosts[mpi.rank])); use --threads \(max(1, cores / mpi.localSize))")
        }
        if mpi.localSize * workers > cores {
            say("note: \(mpi.localSize) processes x \(workers) loader workers on \(cores) cores (\(mpi.hosts[mpi.rank])); --workers \(max(1, cores / mpi.localSize)) shares them")
        }
    }

    /// A message from whichever rank has it (a failed video, a warning): on stderr, with the rank
    /// under mpirun.
    static func report(_ message: String) {
        if let mpi, mpi.size > 1 { say("[rank \(mpi.rank)] " + message) } else { say(message) }
    }

    /// stderr from any rank.
    static func say(_ message: String) { FileHandle.standardError.write(Data((message + "\n").utf8)) }

    /// Runs the command line under MPI: every rank parses and runs it; an error on any rank is
    /// printed with the rank's name and takes the whole job down (MPI_Abort), so no rank waits
    /// forever in a collective for one that has gone.
    static func runUnderMPI<Command: ParsableCommand>(_ type: Command.Type) -> Never {
        let world: MPIWorld
        do { world = try MPIWorld() } catch {
            note("vipbench: cannot start MPI: \(error)")
            exit(70)
        }
        mpi = world
        do {
            var command = try type.parseAsRoot(nil)
            try command.run()
            world.finalize()
            exit(0)
        } catch {
            let code = type.exitCode(for: error)
            if code == .success {           // --help, --version: printed by every rank is noise
                if world.rank == 0 { print(type.fullMessage(for: error)) }
                world.finalize()
                exit(0)
            }
            if error is ExitCode {
                // A command's own verdict (some videos failed, a check missed its tolerance),
                // given after its last collective: every rank ends in order, with that status.
                world.finalize()
                exit(code.rawValue)
            }
            let message = type.fullMessage(for: error)
            if !message.isEmpty { say("vipbench rank \(world.rank) of \(world.size) (\(world.hosts[world.rank])): \(message)") }
            world.abort(code: code.rawValue)
        }
    }
}
