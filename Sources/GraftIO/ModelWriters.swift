import GraftCore
import GraftDL4J
import GraftKeras

/// The writers this build links, by format. Kept in one place so wiring a writer is one line.
enum ModelWriters {
    /// `compress` deflates the weight entries of zip formats (DL4J); they are stored otherwise.
    static func builtIn(_ format: ModelFormat, compress: Bool = false) -> ModelWriter? {
        switch format {
        case .kerasH5: return ModelWriter(format: .kerasH5) { try KerasWriter.write($0, to: $1, container: .h5) }
        case .keras3: return ModelWriter(format: .keras3) { try KerasWriter.write($0, to: $1, container: .keras) }
        case .dl4jZip: return ModelWriter(format: .dl4jZip) { try DL4JWriter.write($0, to: $1, compress: compress) }
        case .kerasJSON, .dl4jConfig: return nil
        }
    }
}
