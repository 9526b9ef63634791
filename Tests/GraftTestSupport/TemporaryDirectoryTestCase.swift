import Foundation
import XCTest

/// A test case with a fresh scratch folder per test (`temp`), removed after it.
open class TemporaryDirectoryTestCase: XCTestCase {
    /// The scratch folder of the running test.
    public var temp: URL!

    override open func setUpWithError() throws {
        try super.setUpWithError()
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("graft-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }

    override open func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temp)
        try super.tearDownWithError()
    }
}
