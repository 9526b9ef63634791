import Foundation
import GraftCore
import XCTest

/// The shared corpus of real Keras and DL4J files (`../shared/corpus` beside the package).
/// In CI (`CI` set) a missing corpus fails the tests; elsewhere they skip with a message.
enum Corpus {
    static let root: URL = {
        // This file is Tests/ConformanceTests/Corpus.swift; the package root is two levels up.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent("../shared/corpus").standardizedFileURL
    }()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func path(_ relative: String) -> String { url(relative).path }

    /// The manifest's cases, or a failure/skip when the corpus is absent.
    static func cases() throws -> [JSONValue] {
        let manifest = root.appendingPathComponent("MANIFEST.json")
        guard FileManager.default.fileExists(atPath: manifest.path) else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("corpus missing at \(root.path): CI requires it")
                return []
            }
            throw XCTSkip("corpus not found at \(root.path); skipping corpus tests")
        }
        let data = try Data(contentsOf: manifest)
        let json = try JSONValue.parse(bytes: [UInt8](data))
        return json["cases"]?.arrayValue ?? []
    }

    /// Cases of the given formats.
    static func cases(formats: Set<String>) throws -> [JSONValue] {
        try cases().filter { formats.contains($0["format"]?.stringValue ?? "") }
    }
}

extension JSONValue {
    /// The string values of an array field.
    var stringArray: [String] { arrayValue?.compactMap(\.stringValue) ?? [] }
}
