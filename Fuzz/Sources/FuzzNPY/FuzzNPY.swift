import FuzzSupport
import GraftCore

/// `.npy` arrays: the in-memory decoder and the file reader (its own header and size checks).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    Fuzz.run { _ = try NPY.decode(bytes) }
    let path = Fuzz.file(bytes, name: "input.npy")
    Fuzz.run { _ = try NPY.read(path: path) }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
