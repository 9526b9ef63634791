import GraftCore

/// The writers this build links, by format. Kept in one place so wiring a writer is one line.
enum ModelWriters {
    static func builtIn(_ format: ModelFormat) -> ModelWriter? {
        switch format {
        default: return nil
        }
    }
}
