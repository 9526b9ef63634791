// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Graft",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "graft", targets: ["graft"]),
        .library(name: "GraftCore", targets: ["GraftCore"]),
        .library(name: "GraftKeras", targets: ["GraftKeras"]),
        .library(name: "GraftDL4J", targets: ["GraftDL4J"]),
        .library(name: "GraftSurgery", targets: ["GraftSurgery"]),
        .library(name: "GraftRuntime", targets: ["GraftRuntime"]),
        .library(name: "GraftIO", targets: ["GraftIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // YAML recipes (formats/recipe.md).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Property-based tests of the surgery operations (Swift Testing).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // System libraries, found through pkg-config. Each has a small C shim header
        // wrapping what Swift cannot import directly (e.g. HDF5's H5T_NATIVE_* macros).
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // SHA-256's compression function in C (SHA extensions when present): hashing model files must be fast in debug builds too.
        .target(name: "CSHA256"),
        // mremap (variadic in C) for growing a tensor's mapping in place (Tensor+Growth.swift).
        .target(name: "CMemory"),
        // CRC-32 (PCLMULQDQ folding when present) and a SIMD 4-byte signature search: the zip and HDF5 readers' passes over every byte.
        .target(name: "CBytes"),
        // Single-precision GEMM on weight matrices packed once (AVX-512 / AVX2 / portable
        // microkernels chosen at run time); the runtime's Dense and recurrent layers use it.
        .target(name: "CGEMM"),
        .target(name: "GraftCore", dependencies: [
            "CZip", "CSHA256", "CMemory", "CBytes",
            .product(name: "OrderedCollections", package: "swift-collections"),
        ]),
        .target(name: "GraftKeras", dependencies: ["GraftCore", "CHDF5", "CZip", "CBytes"]),
        .target(name: "GraftDL4J", dependencies: ["GraftCore", "CZip"]),
        .target(name: "GraftRuntime", dependencies: ["GraftCore", "COpenBLAS", "CGEMM"]),
        .target(name: "GraftSurgery", dependencies: [
            "GraftCore", "GraftRuntime",
            .product(name: "OrderedCollections", package: "swift-collections"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // Format detection by content and loading/saving through the format modules.
        .target(name: "GraftIO", dependencies: ["GraftCore", "GraftKeras", "GraftDL4J"]),
        .executableTarget(name: "graft", dependencies: [
            "GraftCore", "GraftIO", "GraftKeras", "GraftDL4J", "GraftSurgery", "GraftRuntime",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The Graft side of `make bench` (bench/README.md): one subcommand per measured operation.
        // Not a test, not part of `make test`.
        .executableTarget(name: "graft-bench", dependencies: [
            "GraftCore", "GraftKeras", "GraftDL4J", "GraftIO", "GraftRuntime", "GraftSurgery", "COpenBLAS",
            .product(name: "OrderedCollections", package: "swift-collections"),
        ], path: "Benchmarks/graft-bench"),

        .testTarget(name: "GraftCoreTests", dependencies: ["GraftCore", "CBytes", "CZip", "GraftTestSupport"]),
        .testTarget(name: "GraftKerasTests", dependencies: ["GraftKeras", "GraftRuntime", "GraftTestSupport"]),
        .testTarget(name: "GraftDL4JTests", dependencies: ["GraftDL4J", "GraftRuntime"]),
        .testTarget(name: "GraftRuntimeTests", dependencies: ["GraftRuntime"]),
        .testTarget(name: "GraftSurgeryTests", dependencies: [
            "GraftSurgery", "GraftRuntime", "GraftIO", "GraftTestSupport",
            .product(name: "OrderedCollections", package: "swift-collections"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        // Runs the built `graft` binary for the end-to-end tests.
        .target(name: "GraftTestSupport", path: "Tests/GraftTestSupport"),
        .testTarget(name: "ConformanceTests", dependencies: ["GraftKeras", "GraftDL4J", "GraftRuntime", "GraftIO", "GraftTestSupport", "graft"]),
        .testTarget(name: "GraftIOTests", dependencies: ["GraftIO", "GraftTestSupport"]),
        .testTarget(name: "GraftCLITests", dependencies: ["graft", "GraftTestSupport", "GraftCore", "GraftIO"]),
    ]
)
