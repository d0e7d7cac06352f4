// swift-tools-version:6.0
//
// vipbench: a harness that reproduces, measures and guards the results of "Knights", the
// first-place entry of the VIPriors 2021 action-recognition challenge.
//
// Module map (dependencies point one way, left to right):
//   CBLAS, CDNNL, CVectorMath <- Engine  (tensors, ops, autodiff; products through cblas_sgemm, ungrouped
//              convolutions through oneDNN behind CDNNL's C face; softmax and GELU loops in C picked by
//              CPU at run time) <- Models
//   CFFmpeg <- Media   (FFmpeg decode/encode) <- Flow (TV-L1, flow files) <- Data (datasets, samplers,
//              transforms, loader, synthetic set)
//   CSQLite <- Store   (the versioned SQLite results store)
//   CSV, Plot, Safetensors (leaf utilities: RFC 4180 CSV, gnuplot rendering, safetensors files)
//   CSV <- Annotations (the challenge's clsIdx.csv, label CSVs, corrupt list) <- Evaluation, Data
//   CSV, Store, Plot, Safetensors <- Evaluation (multi-view scores, challenge metrics, ensembles)
//   CMPI, Engine <- Distributed (Open MPI's ranks as the engine's `Collective`: gradient sums, gathers,
//              broadcasts; who is launched by mpirun, which share of the work is whose)
//   Engine, Models, Data, Flow, Safetensors <- Training (optimisers, schedules, losses, loops, checkpoints;
//              reports through events, knows nothing of SQLite)
//   Training, Evaluation, Store, Plot <- Experiments (Table 1's rows as typed configurations, plans)
//   Engine, Media, Store, CSV, Plot <- Harness (Table 1's reference numbers, machine facts, runs)
//   Engine, Models, Media, Data, Flow, Store, Harness <- Benchmarking (GEMM, engine, model, decode and
//              flow benchmarks, each against a baseline measured in the same run) <- vipbench (CLI)
import PackageDescription

let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "vipbench",
    products: [
        .executable(name: "vipbench", targets: ["vipbench"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Harness", targets: ["Harness"]),
        .library(name: "Benchmarking", targets: ["Benchmarking"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        // Native libraries from Debian's -dev packages.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg",
                       pkgConfig: "libavformat libavcodec libswscale libavutil",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),

        // oneDNN's convolutions behind a small C face (C++ inside): Debian's libdnnl-dev.
        .target(name: "CDNNL", path: "Sources/CDNNL", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),

        // The engine's exp-heavy elementwise loops (softmax, GELU) in C, compiled for AVX-512, AVX2
        // and baseline x86-64 and picked at run time, with the Swift loops' exact arithmetic.
        .target(name: "CVectorMath", path: "Sources/CVectorMath"),

        .target(name: "Engine", dependencies: ["CBLAS", "CDNNL", "CVectorMath"], swiftSettings: swiftSettings),
        .target(name: "Models", dependencies: ["Engine", "Safetensors"], swiftSettings: swiftSettings),
        .target(name: "Media", dependencies: ["CFFmpeg"], swiftSettings: swiftSettings),
        .target(name: "Flow", dependencies: ["Media"], swiftSettings: swiftSettings),
        .target(name: "Data", dependencies: ["Media", "Engine", "CSV", "Annotations", "Flow"], swiftSettings: swiftSettings),
        .target(name: "Distributed", dependencies: ["CMPI", "Engine"], swiftSettings: swiftSettings),
        .target(name: "CSV"),
        .target(name: "Store", dependencies: ["CSQLite"]),
        .target(name: "Plot"),
        .target(name: "Safetensors"),
        .target(name: "Annotations", dependencies: ["CSV"]),
        .target(name: "Evaluation", dependencies: ["Annotations", "CSV", "Store", "Plot", "Safetensors"], swiftSettings: swiftSettings),
        .target(name: "Training", dependencies: ["Engine", "Models", "Data", "Flow", "Safetensors"], swiftSettings: swiftSettings),
        .target(name: "Experiments", dependencies: ["Training", "Models", "Engine", "Data", "Evaluation", "Store", "Plot"], swiftSettings: swiftSettings),
        .target(name: "Harness", dependencies: ["Engine", "Media", "Store", "CSV", "Plot"]),
        .target(name: "Benchmarking", dependencies: ["Harness", "Engine", "Models", "Media", "Data", "Flow", "Store", "Plot"]),
        .executableTarget(name: "vipbench", dependencies: [
            "Harness", "Benchmarking", "Training", "Experiments", "Store", "Plot", "Engine", "Models", "Media", "Data", "CSV", "Evaluation", "Safetensors", "Flow", "Distributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the test targets: where the committed fixtures are, and the central difference
        // every gradient test checks against.
        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["TestSupport", "Engine"]),
        .testTarget(name: "MediaTests", dependencies: ["TestSupport", "Media"]),
        .testTarget(name: "ModelsTests", dependencies: ["TestSupport", "Models", "Engine", "Safetensors"]),
        .testTarget(name: "DataTests", dependencies: ["TestSupport", "Data", "Media", "Engine", "Flow"]),
        .testTarget(name: "FlowTests", dependencies: ["Flow", "Media"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "HarnessTests", dependencies: ["TestSupport", "Harness", "Store", "CSV", "Plot"]),
        .testTarget(name: "BenchmarkingTests", dependencies: ["Benchmarking"]),
        .testTarget(name: "EvaluationTests", dependencies: ["TestSupport", "Evaluation", "Safetensors", "Store", "Plot"]),
        .testTarget(name: "TrainingTests", dependencies: ["TestSupport", "Training", "Engine", "Models", "Data", "Safetensors"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Training", "Models", "Store", "Plot", "Data"]),
        .testTarget(name: "CLITests", dependencies: ["Store", "Evaluation", "Safetensors"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
