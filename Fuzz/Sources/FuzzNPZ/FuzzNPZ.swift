import FuzzSupport
import GraftCore

/// `.npz` archives (zip of `.npy` entries).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Fuzz.file(Fuzz.bytes(data, size), name: "input.npz")
    Fuzz.run { _ = try NPZ.read(path: path) }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
