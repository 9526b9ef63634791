import CGEMM
import GraftCore

/// An LSTM recurrent kernel [u, 4u] (Keras gate order [i | f | c | o]) packed for CGEMM's fused
/// step (`Sources/CGEMM/include/clstm.h`): each time step's recurrent product, gate
/// functions and cell/hidden update run in one pass per row tile, bit-identical to the
/// unfused packed GEMM + VectorMath path on the same vector unit. Applies to float32 LSTMs
/// with activation tanh, recurrent activation sigmoid and no peepholes, on CPUs with AVX2 or
/// AVX-512 (`FusedLSTMWeights.variant` is nil elsewhere: the unfused step runs).
final class FusedLSTMWeights: @unchecked Sendable {
    let units: Int
    /// The CGEMM variant the packing was made for (the step must run the same one).
    let variant: Int32
    let packed: UnsafeMutablePointer<Float>

    /// The resolved variant for `PackedGEMM.Variant`, or nil when no fused step exists.
    static func variant(for v: PackedGEMM.Variant) -> Int32? {
        let resolved = graft_lstm_variant(Int32(v.rawValue))
        return resolved == 0 ? nil : resolved
    }

    /// Whether a cell runs the fused step: LSTM without peepholes, tanh and sigmoid.
    static func applies(to cell: RecurrentCell) -> Bool {
        cell.kind == .lstm(peepholes: false) && cell.attributes.activation == .tanh
            && cell.attributes.recurrentActivation == .sigmoid
    }

    /// Packs `recurrent` read as [u, ldu ≥ 4u] row-major; nil when the variant has no fused step.
    init?(_ recurrent: UnsafePointer<Float>, units u: Int, ldu: Int, variant v: PackedGEMM.Variant = PackedGEMM.forcedVariant) {
        guard u > 0, let resolved = Self.variant(for: v) else { return nil }
        let count = graft_lstm_packed_count(resolved, u)
        guard count > 0 else { return nil }
        units = u
        variant = resolved
        packed = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        graft_lstm_pack(resolved, recurrent, ldu, u, packed)
    }

    /// Packs a [u, 4u] tensor (converted to float32 when needed); nil when no fused step exists.
    static func make(kernel: Tensor, units u: Int) throws -> FusedLSTMWeights? {
        guard kernel.count == u * 4 * u else {
            throw GraftError(.shapeMismatch, "recurrent kernel does not have the expected size", expected: "[\(u), \(4 * u)]",
                             found: "\(kernel.shape)")
        }
        let source = kernel.dtype == .float32 ? kernel : kernel.converted(to: .float32)
        return source.withScalars(as: Float.self) { p in
            p.baseAddress.flatMap { FusedLSTMWeights($0, units: u, ldu: 4 * u) }
        }
    }

    deinit { UnsafeMutableRawPointer(packed).deallocate() }

    /// One step over `rows` rows (see graft_lstm_step): z = pre + h·U, then c' and h'.
    /// h_out may be h and cOut may be cIn; hOut2 receives h' too when given.
    func step(rows: Int, h: UnsafePointer<Float>, ldh: Int, pre: UnsafeMutablePointer<Float>, ldpre: Int,
              cIn: UnsafePointer<Float>, cOut: UnsafeMutablePointer<Float>, ldc: Int,
              hOut: UnsafeMutablePointer<Float>, ldho: Int, hOut2: UnsafeMutablePointer<Float>?, ldho2: Int) {
        _ = graft_lstm_step(variant, rows, units, h, ldh, packed, pre, ldpre, cIn, cOut, ldc, hOut, ldho, hOut2, ldho2)
    }
}

extension PackedWeightCache {
    /// The fused-step packing of an LSTM recurrent kernel [u, 4u], cached under `key`; nil
    /// when this CPU has no fused step.
    func lstmWeights(_ key: String, _ tensor: Tensor, units u: Int) throws -> FusedLSTMWeights? {
        try cachedObject(key, tensor) { try FusedLSTMWeights.make(kernel: tensor, units: u) }
    }
}
