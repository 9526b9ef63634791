import CHDF5
import Foundation
import GraftCore
@testable import GraftKeras
import XCTest

/// The HDF5 wrapper on corpus files (facts from the corpus manifest) and on small files
/// written here with libhdf5 itself (links that must be refused).
final class HDF5Tests: XCTestCase {
    static let corpus: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/corpus").standardizedFileURL

    func corpusPath(_ relative: String) throws -> String {
        let path = Self.corpus.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("corpus not found at \(path)") }
        return path
    }

    func testReadsKeras1AttributesAndDatasets() throws {
        // Manifest: keras/weights/dense_theano_1 is Keras 1.2.2, dense_1 weights [4, 6] and [6].
        let path = try corpusPath("keras/weights/dense_theano_1.h5")
        let root = try HDF5File(path: path).root()
        XCTAssertEqual(try root.stringAttribute("keras_version"), "1.2.2")
        XCTAssertNil(try root.stringAttribute("backend"))
        let weights = try root.group("model_weights")
        XCTAssertEqual(try weights.chunkedStringsAttribute("layer_names"), ["dense_1"])
        let layer = try weights.group("dense_1")
        XCTAssertEqual(try layer.stringsAttribute("weight_names"), ["dense_1_W", "dense_1_b"])
        let kernel = try layer.dataset("dense_1_W").read()
        XCTAssertEqual(kernel.shape, [4, 6])
        XCTAssertEqual(kernel.dtype, .float32)
        XCTAssertEqual(Int(bitPattern: kernel.storage.pointer) % 4096, 0, "storage is page-aligned")
        XCTAssertEqual(try layer.dataset("dense_1_b").shape(), [6])
    }

    func testNestedWeightPathsWithSlashes() throws {
        // Manifest: keras/tfscope/model_h5 names weights `global/shared/dense_1_W:0`, [70, 256].
        let root = try HDF5File(path: try corpusPath("keras/tfscope/model.h5")).root()
        let layer = try root.group("model_weights/dense_1")
        XCTAssertEqual(try layer.dataset("global/shared/dense_1_W:0").read().shape, [70, 256])
    }

    func testErrorsNameFileAndPath() throws {
        let path = try corpusPath("keras/weights/dense_theano_1.h5")
        let root = try HDF5File(path: path).root()
        XCTAssertThrowsError(try root.dataset("model_weights/nope")) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.file, path)
            XCTAssertEqual(e?.location, "/model_weights/nope")
        }
        XCTAssertThrowsError(try root.dataset("model_weights")) { XCTAssertEqual(($0 as? GraftError)?.kind, .malformed) }
        XCTAssertThrowsError(try HDF5File(path: "/nonexistent/x.h5")) { XCTAssertEqual(($0 as? GraftError)?.kind, .io) }
        let notHDF5 = try corpusPath("README.md")
        XCTAssertThrowsError(try HDF5File(path: notHDF5)) { XCTAssertEqual(($0 as? GraftError)?.kind, .malformed) }
    }

    func testExternalAndSoftLinksAreRefused() throws {
        let path = NSTemporaryDirectory() + "graft-links-\(UUID().uuidString).h5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fid = H5Fcreate(path, UInt32(H5F_ACC_TRUNC_value), graft_h5p_default(), graft_h5p_default())
        XCTAssertGreaterThanOrEqual(fid, 0)
        let gid = H5Gcreate2(fid, "real", graft_h5p_default(), graft_h5p_default(), graft_h5p_default())
        H5Gclose(gid)
        XCTAssertGreaterThanOrEqual(H5Lcreate_external("/etc/other.h5", "/data", fid, "outside", graft_h5p_default(),
                                                       graft_h5p_default()), 0)
        XCTAssertGreaterThanOrEqual(H5Lcreate_soft("/real", fid, "alias", graft_h5p_default(), graft_h5p_default()), 0)
        H5Fclose(fid)

        let root = try HDF5File(path: path).root()
        XCTAssertEqual(try root.kind(of: "real"), .group)
        for name in ["outside", "alias"] {
            XCTAssertThrowsError(try root.group(name)) { error in
                XCTAssertEqual((error as? GraftError)?.kind, .unsupported, name)
                XCTAssertEqual((error as? GraftError)?.location, "/\(name)")
            }
        }
    }
}

/// `H5F_ACC_TRUNC` is a macro Swift cannot import.
private let H5F_ACC_TRUNC_value: Int32 = 0x0002
