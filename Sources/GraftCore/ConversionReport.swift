/// What a writer did with a graph: the fields and layers it had to drop, approximate or
/// convert, by name. Writers return it; `graft convert` prints it. An empty report means
/// nothing was lost.
public struct ConversionReport: Sendable, Equatable {
    public struct Note: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable, Equatable {
            /// A field or attachment the target format cannot hold was left out.
            case dropped
            /// A value was converted in a way that keeps the function exactly (e.g. all-zero
            /// Graves peepholes written as a plain LSTM).
            case exactConversion
            /// Something carried over that the target format interprets differently.
            case warning
        }
        public var kind: Kind
        /// The node concerned, or nil for the whole model.
        public var node: String?
        public var message: String
        public init(_ kind: Kind, node: String?, _ message: String) {
            self.kind = kind; self.node = node; self.message = message
        }
        public var description: String { "\(kind.rawValue): \(node.map { "\($0): " } ?? "")\(message)" }
    }

    public var notes: [Note]
    public init(notes: [Note] = []) { self.notes = notes }

    public mutating func add(_ kind: Note.Kind, node: String?, _ message: String) {
        notes.append(Note(kind, node: node, message))
    }

    public var isLossless: Bool { !notes.contains { $0.kind == .dropped } }
}
