import FuzzSupport
import GraftCore
import GraftIO
import GraftSurgery

/// Surgery recipes as the CLI reads them (foreign layer notations included), applied to the
/// bundled LSTM fixture, so step arguments reach the surgery operations.
let graph: Graph = {
    do { return try ModelFile.load(path: Fuzz.fixtures + "/lstm_timeseries.h5") } catch {
        fatalError("cannot load the recipe harness' model: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: Fuzz.bytes(data, size), as: UTF8.self)
    Fuzz.run {
        let recipe = try Recipe.parse(json: text, foreignLayers: { try ForeignLayerParser.parse(json: $0) })
        _ = try recipe.apply(to: graph)
    }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
