import FuzzSupport
import GraftCore
import GraftIO

/// Freeze manifests (`<model>.graft.json`): parsed, then applied to and checked against the
/// bundled MLP fixture.
let graph: Graph = {
    do { return try ModelFile.load(path: Fuzz.fixtures + "/mlp.h5") } catch {
        fatalError("cannot load the manifest harness' model: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    Fuzz.run {
        let manifest = try FreezeManifest(json: try JSONValue.parse(bytes: bytes), file: "fuzz.graft.json")
        _ = manifest.apply(to: graph)
        _ = manifest.movedParameters(in: graph)
    }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
