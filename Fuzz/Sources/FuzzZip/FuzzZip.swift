import FuzzSupport
import GraftCore

/// The zip layer (libzip behind `ZipArchive`): open, list, and read every entry with the
/// production limits (entry size, compression ratio, unsafe names).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Fuzz.file(Fuzz.bytes(data, size), name: "input.zip")
    Fuzz.run {
        let archive = try ZipArchive(path: path)
        for name in archive.entryNames {
            Fuzz.run { _ = try archive.read(name) }
        }
    }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
