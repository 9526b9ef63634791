/// Element types a tensor can hold.
public enum DType: String, Sendable, Codable, CaseIterable {
    case float16, float32, float64, int8, uint8, int16, int32, int64, bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .int16: return 2
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        }
    }

    public var isFloatingPoint: Bool {
        self == .float16 || self == .float32 || self == .float64
    }
}
