// swift-tools-version:6.3
//
// vipbench's benchmarks with ordo-one/benchmark (run: `make bench-package`, or
// `swift package --allow-writing-to-package-directory benchmark` in this folder).
// A separate package so the main build and `make test` do not compile the benchmark framework.
import PackageDescription

let package = Package(
    name: "vipbench-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "vipbench", path: ".."),
        // The default trait pulls jemalloc through a package that is not in the mirror.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "GEMM",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Engine", package: "vipbench"),
            ],
            path: "Benchmarks/GEMM",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "EngineConv",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Engine", package: "vipbench"),
            ],
            path: "Benchmarks/EngineConv",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ],
    swiftLanguageModes: [.v5]
)
