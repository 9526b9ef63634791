import GraftCore

/// Config readings shared by the convolution, pooling and padding families.
extension KerasConfig {
    /// The data format of a layer with `rank` spatial axes. Keras 1 1-D layers and Keras 2.0/2.1
    /// 1-D pooling have no `dim_ordering`/`data_format` and are always channels-last.
    func spatialDataFormat(rank: Int) throws -> DataFormat {
        if rank == 1, value(["data_format"]) == nil { return .channelsLast }
        return try dataFormat()
    }

    /// `padding` / `border_mode` as an IR padding (`full`, a Theano-only Keras 1 mode, is refused).
    func convPadding(default fallback: Padding = .valid) throws -> Padding {
        guard let v = value(["padding", "border_mode"]) else { return fallback }
        guard let s = v.stringValue, let p = Padding(rawValue: s.lowercased()) else {
            throw context.error(.unsupported, "unsupported padding mode", field: "padding",
                                expected: "valid, same or causal", found: v.description)
        }
        return p
    }

    /// An int tuple from the first key present, or from Keras 1's one-field-per-axis form
    /// (`nb_row`, `nb_col`), or `fallback`.
    func spatialInts(_ keys: [String], perAxis: [String] = [], rank: Int, default fallback: [Int]? = nil) throws -> [Int] {
        if let v = value(keys) {
            if let i = v.intValue { return Array(repeating: i, count: rank) }
            guard let a = v.intArray, a.count == rank else {
                throw context.error(.malformed, "field has the wrong form", field: keys[0],
                                    expected: "\(rank) integers", found: v.description)
            }
            return a
        }
        if !perAxis.isEmpty, perAxis.allSatisfy({ value([$0]) != nil }) {
            return try perAxis.map { try int($0) }
        }
        if let fallback { return fallback }
        throw context.error(.malformed, "missing field", field: (keys + perAxis).joined(separator: " / "))
    }

    /// Before/after amounts per spatial axis for ZeroPadding/Cropping. Accepts an int (all
    /// sides), `rank` ints (symmetric per axis; for rank 1 a pair is before/after), pairs per
    /// axis, Keras 1's 4-tuple `(top, bottom, left, right)` and its `{top_pad, …}` dictionary.
    func padAmounts(_ key: String, rank: Int, default fallback: Int) throws -> [SpatialPadAttributes.Pair] {
        typealias Pair = SpatialPadAttributes.Pair
        guard let v = value([key]) else { return Array(repeating: Pair(fallback, fallback), count: rank) }
        let bad = context.error(.malformed, "field has the wrong form", field: key,
                                expected: "an int, \(rank) ints, or \(rank) pairs", found: v.description)
        if let i = v.intValue { return Array(repeating: Pair(i, i), count: rank) }
        if let o = v.objectValue {
            let names = rank == 1 ? [("left_pad", "right_pad")] : [("top_pad", "bottom_pad"), ("left_pad", "right_pad")]
            return try names.map { b, a in
                guard let x = o[b]?.intValue, let y = o[a]?.intValue else { throw bad }
                return Pair(x, y)
            }
        }
        guard let items = v.arrayValue else { throw bad }
        if let ints = v.intArray {
            if rank == 1, ints.count == 2 { return [Pair(ints[0], ints[1])] }
            if ints.count == rank { return ints.map { Pair($0, $0) } }
            if ints.count == 2 * rank { return (0..<rank).map { Pair(ints[2 * $0], ints[2 * $0 + 1]) } }
            throw bad
        }
        guard items.count == rank else { throw bad }
        return try items.map { item in
            if let i = item.intValue { return Pair(i, i) }
            guard let p = item.intArray, p.count == 2 else { throw bad }
            return Pair(p[0], p[1])
        }
    }
}
