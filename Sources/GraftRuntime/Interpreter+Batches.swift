import GraftCore

extension Interpreter {
    /// Runs the graph over inputs in batches of `batchSize` rows (every input is split along
    /// its first axis), joining each wanted output's batches along the first axis — DL4J
    /// TransferLearningHelper's `featurize` over a data set. `progress` is called after each
    /// batch with (rows done, rows in all).
    public func runInBatches(_ inputs: [Tensor], outputs wanted: [NodeOutput], batchSize: Int,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> [Tensor] {
        guard batchSize > 0 else {
            throw GraftError(.invalidArgument, "batch size must be positive", field: "batchSize", found: "\(batchSize)")
        }
        guard let total = inputs.first.map({ $0.rank > 0 ? $0.shape[0] : 0 }), total > 0 else {
            return try run(inputs, outputs: wanted)
        }
        for t in inputs where t.rank == 0 || t.shape[0] != total {
            throw GraftError(.shapeMismatch, "inputs differ in their number of rows", expected: "\(total)", found: "\(t.shape)")
        }
        var batches: [[Tensor]] = Array(repeating: [], count: wanted.count)
        var start = 0
        while start < total {
            let end = min(start + batchSize, total)
            let outs = try run(try inputs.map { try $0.rows(start..<end) }, outputs: wanted)
            for (i, t) in outs.enumerated() { batches[i].append(t) }
            start = end
            progress(end, total)
        }
        return try batches.map { try Tensor.concatenatingRows($0) }
    }
}
