// swift-tools-version:6.0
// libFuzzer harnesses for Graft's parsers (issue 7). A separate package so the main build and
// `make test` never see `-sanitize=fuzzer`. Build and run through `make fuzz` (see README.md).
import Foundation
import PackageDescription

/// One executable per harness; each defines `LLVMFuzzerTestOneInput` and gets libFuzzer's
/// `main` from `-sanitize=fuzzer` (given on the command line by `make fuzz-build`), hence
/// `-parse-as-library`.
/// The main package is a path dependency; SwiftPM names it after its folder (the checkout's name).
let graft = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let harnesses: [(name: String, dependencies: [Target.Dependency])] = [
    ("FuzzNPY", [.product(name: "GraftCore", package: graft)]),
    ("FuzzNPZ", [.product(name: "GraftCore", package: graft)]),
    ("FuzzJSON", [.product(name: "GraftCore", package: graft)]),
    ("FuzzZip", [.product(name: "GraftCore", package: graft)]),
    ("FuzzNd4j", [.product(name: "GraftDL4J", package: graft)]),
    ("FuzzDL4JConfig", [.product(name: "GraftDL4J", package: graft)]),
    ("FuzzDL4JZip", [.product(name: "GraftIO", package: graft)]),
    ("FuzzKerasH5", [.product(name: "GraftIO", package: graft)]),
    ("FuzzKerasJSON", [.product(name: "GraftKeras", package: graft)]),
    ("FuzzKeras3", [.product(name: "GraftIO", package: graft)]),
    ("FuzzRecipe", [.product(name: "GraftIO", package: graft), .product(name: "GraftSurgery", package: graft)]),
    ("FuzzManifest", [.product(name: "GraftIO", package: graft)]),
]

let package = Package(
    name: "GraftFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "GraftCore", package: graft)]),
    ] + harnesses.map { harness in
        .executableTarget(name: harness.name, dependencies: ["FuzzSupport"] + harness.dependencies,
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
