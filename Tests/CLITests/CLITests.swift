import Foundation
import Store
import XCTest

final class CLITests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testEnvJSONHasTheDocumentedKeys() throws {
        let r = try CLI.run(["env", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["cpu", "blas", "ffmpeg", "sqlite", "gnuplot", "swift", "git"] {
            XCTAssertNotNil(object[key], "missing key \(key)")
        }
        let blas = try XCTUnwrap(object["blas"] as? [String: Any])
        XCTAssertTrue((blas["configuration"] as? String)?.contains("OpenBLAS") == true)
        XCTAssertGreaterThanOrEqual(blas["threads"] as? Int ?? 0, 1)
        // The tool sets the native libraries' settings and runs itself again when they are unset.
        let untuned = try CLI.run(["env", "--json"], unsetting: ["OPENBLAS_THREAD_TIMEOUT", "GOMP_SPINCOUNT", "MALLOC_MMAP_MAX_",
                                                                 "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX"])
        let data = Data(untuned.stdout.utf8)
        let reexec = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let config = (reexec["blas"] as? [String: Any])?["configuration"] as? String ?? ""
        XCTAssertTrue(config.contains("OPENBLAS_THREAD_TIMEOUT=4") && config.contains("MALLOC_MMAP_MAX_=0")
                      && config.contains("MALLOC_ARENA_MAX=1") && config.contains("GOMP_SPINCOUNT=10000")
                      && config.contains("convolutions: oneDNN"), config)
        let cpu = try XCTUnwrap(object["cpu"] as? [String: Any])
        XCTAssertEqual(cpu["cores"] as? Int, ProcessInfo.processInfo.activeProcessorCount)
        let ffmpeg = try XCTUnwrap(object["ffmpeg"] as? [String: Any])
        XCTAssertTrue((ffmpeg["avformat"] as? String)?.hasPrefix("59.") == true || ffmpeg["avformat"] != nil)
        let git = try XCTUnwrap(object["git"] as? [String: Any])
        XCTAssertTrue(git.keys.contains("commit") && git.keys.contains("dirty"))
        XCTAssertEqual((object["sqlite"] as? [String: Any])?["version"] as? String, SQLiteDatabase.libraryVersion)
    }

    func testEnvPlainTextNamesEveryLibrary() throws {
        let r = try CLI.run(["env"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for word in ["cpu", "blas", "ffmpeg", "sqlite", "gnuplot", "swift", "git", "OpenBLAS", "libavcodec"] {
            XCTAssertTrue(r.stdout.contains(word), "env output lacks \(word)")
        }
    }

    func importReference() throws -> String {
        let db = dir + "/r.sqlite"
        let r = try CLI.run(["reference", "import", "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("7 new"), r.stderr)
        return db
    }

    func testResultsInEveryFormat() throws {
        let db = try importReference()
        let again = try CLI.run(["reference", "import", "--db", db])
        XCTAssertTrue(again.stderr.contains("0 new, 0 updated, 7 unchanged"), again.stderr)

        let table = try CLI.run(["results", "--reference", "--db", db])
        XCTAssertEqual(table.status, 0, table.stderr)
        let lines = table.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 9, table.stdout)  // header, rule, 7 rows
        XCTAssertTrue(lines[0].hasPrefix("source"))
        XCTAssertTrue(table.stdout.contains("R3D-50") && table.stdout.contains("61.1"))

        let csv = try CLI.run(["results", "--db", db, "--format", "csv"])
        let csvLines = csv.stdout.split(separator: "\n")
        XCTAssertEqual(csvLines.count, 8)
        XCTAssertEqual(csvLines[0], "source,row,model,modality,pretraining,resolution,clip,views,split,metric,unit,value")
        XCTAssertEqual(csvLines[5], "knights-vipriors2021-table1,5,R3D-50,rgb,TCLR,224,16x2,3x10,val,top1,percent,61.1")

        let json = try CLI.run(["results", "--reference", "--db", db, "--format", "json"])
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.count, 7)
        XCTAssertEqual(rows[0]["model"] as? String, "MViT-B")
        XCTAssertEqual(rows[0]["value"] as? Double, 51.3)
        XCTAssertEqual(rows[2]["views"] as? String, "3x5")

        // The environment variable selects the database too.
        let viaEnv = try CLI.run(["results", "--format", "json"], environment: ["VIPBENCH_DB": db])
        XCTAssertEqual(viaEnv.stdout, json.stdout)

        let runs = try CLI.run(["results", "--runs", "--db", db, "--format", "json"])
        XCTAssertEqual(runs.status, 0, runs.stderr)
        XCTAssertEqual(runs.stdout, "[]\n")
    }

    func testBadInputsExitNonZeroWithAMessageNamingTheFile() throws {
        let notDB = dir + "/notes.txt"
        try "just some notes\n".write(toFile: notDB, atomically: true, encoding: .utf8)
        let r = try CLI.run(["results", "--db", notDB])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(notDB) && r.stderr.contains("not a vipbench results database"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: notDB, encoding: .utf8), "just some notes\n")

        let missing = try CLI.run(["reference", "import", dir + "/nope.csv", "--db", dir + "/x.sqlite"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(dir + "/nope.csv: file not found"), missing.stderr)

        let badCSV = dir + "/bad.csv"
        try "row,model\n1,x\n".write(toFile: badCSV, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["reference", "import", badCSV, "--db", dir + "/x.sqlite"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("bad.csv:1: missing column 'modality'"), bad.stderr)

        let noStore = try CLI.run(["results", "--db", dir + "/absent.sqlite"])
        XCTAssertNotEqual(noStore.status, 0)
        XCTAssertTrue(noStore.stderr.contains("absent.sqlite"), noStore.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/absent.sqlite"), "reading must not create a store")

        let format = try CLI.run(["results", "--db", dir + "/x.sqlite", "--format", "xml"])
        XCTAssertNotEqual(format.status, 0)
        XCTAssertTrue(format.stderr.contains("xml"), format.stderr)
    }

    func testEverySubcommandHasHelp() throws {
        for args in [["--help"], ["env", "--help"], ["reference", "import", "--help"], ["results", "--help"],
                     ["plot", "--help"], ["bench", "gemm", "--help"]] {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE"), "\(args)")
            XCTAssertGreaterThan(r.stdout.count, 200, "\(args) help is too thin")
        }
    }

    func testPlotWritesImagesAndRecordsArtifacts() throws {
        let db = try importReference()
        let out = dir + "/plots"
        let r = try CLI.run(["plot", "--db", db, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["table1.png", "table1.svg", "table1.dat", "table1.gp"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let store = try ResultsStore(path: db)
        let artifacts = try store.artifacts()
        XCTAssertEqual(artifacts.map(\.kind).sorted(), ["plot", "plot", "plot-data", "plot-script"])
        let png = try XCTUnwrap(artifacts.first { $0.path.hasSuffix(".png") })
        XCTAssertEqual(png.sha256, try SHA256.hex(fileAt: png.path))
        XCTAssertEqual(try store.runs().map(\.status), [.finished])

        let noGnuplot = try CLI.run(["plot", "--db", db, "--out", out], environment: ["PATH": "/nonexistent"])
        XCTAssertNotEqual(noGnuplot.status, 0)
        XCTAssertTrue(noGnuplot.stderr.contains("gnuplot-nox"), noGnuplot.stderr)
    }

    /// Both processes start on a file that does not exist yet, so they also race to create and
    /// migrate it; repeated to give the race several chances.
    func testTwoConcurrentWriterProcessesBothSucceed() throws {
        let n = 150
        for round in 0..<4 {
            let db = dir + "/concurrent-\(round).sqlite"
            let a = try CLI.start(["debug", "store-writer", "--db", db, "--label", "A", "--count", "\(n)"])
            let b = try CLI.start(["debug", "store-writer", "--db", db, "--label", "B", "--count", "\(n)"])
            a.0.waitUntilExit()
            b.0.waitUntilExit()
            let errA = String(decoding: a.2.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let errB = String(decoding: b.2.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(a.0.terminationStatus, 0, errA)
            XCTAssertEqual(b.0.terminationStatus, 0, errB)
            let store = try ResultsStore(path: db)
            let runs = try store.runs()
            XCTAssertEqual(Set(runs.map(\.configuration)), ["A", "B"])
            XCTAssertEqual(runs.map(\.status), [.finished, .finished])
            for run in runs { XCTAssertEqual(try store.metrics(run: run.id).count, n) }
        }
    }

    func testAKilledWriterLeavesItsRunUnfinishedAndNoHalfWrittenMetrics() throws {
        let db = dir + "/killed.sqlite"
        let (p, out, _) = try CLI.start(["debug", "store-writer", "--db", db, "--label", "doomed", "--count", "5",
                                         "--hold-batch", "40", "--hold-seconds", "60"])
        // Wait until the writer says it is inside its transaction, then kill it.
        var seen = Data()
        let deadline = Date().addingTimeInterval(60)
        while !String(decoding: seen, as: UTF8.self).contains("holding") && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("holding"))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()

        let store = try ResultsStore(path: db)
        let run = try XCTUnwrap(store.runs().first)
        XCTAssertEqual(run.status, .running)
        XCTAssertEqual(run.displayStatus, "interrupted")
        XCTAssertNil(run.endedAt)
        XCTAssertEqual(try store.metrics(run: run.id).count, 5, "the held batch must not be half there")
        // The lock died with the process: another writer goes on.
        let next = try CLI.run(["debug", "store-writer", "--db", db, "--label", "next", "--count", "3"])
        XCTAssertEqual(next.status, 0, next.stderr)
        let listed = try CLI.run(["results", "--runs", "--db", db, "--format", "csv"])
        XCTAssertTrue(listed.stdout.contains("interrupted"), listed.stdout)
    }
}
