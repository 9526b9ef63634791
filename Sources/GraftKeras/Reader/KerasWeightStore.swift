import GraftCore

/// Where a layer's weights come from. A layer is addressed by its path of names from the
/// top-level model (`["encoder", "dense_1"]` for a layer inside nested model `encoder`)
/// together with its spec (Keras 3 archives address layers by attribute path instead).
protocol KerasWeightStore {
    func weights(path: [KerasLayerSpec]) throws -> [KerasWeight]
}

/// Legacy Keras HDF5 weights (full model under `model_weights`, or a weights-only file at
/// the root): one group per top-level layer listed in `layer_names`, each with a
/// `weight_names` attribute whose entries are dataset paths relative to that group. Nested
/// models are one group holding all their layers' weights; a nested layer takes the entries
/// whose path has its name as a component (or as the Keras 1 `<name>_` prefix).
struct KerasLegacyWeightStore: KerasWeightStore {
    let group: HDF5Group
    let layerNames: [String]

    init(group: HDF5Group) throws {
        self.group = group
        guard let names = try group.chunkedStringsAttribute("layer_names") else {
            throw GraftError(.malformed, "weights group without layer_names", file: group.file.path,
                             location: group.path, field: "layer_names")
        }
        layerNames = names
    }

    func weights(path: [KerasLayerSpec]) throws -> [KerasWeight] {
        guard let top = path.first, layerNames.contains(top.name) else { return [] }
        let layerGroup = try group.group(top.name)
        let names = try layerGroup.chunkedStringsAttribute("weight_names") ?? []
        var selected = names
        if path.count > 1, let inner = path.last?.name {
            selected = names.filter { name in
                let parts = name.split(separator: "/").map(String.init)
                return parts.dropLast().contains(inner) || (parts.last?.hasPrefix(inner + "_") ?? false)
            }
        }
        return try selected.map { name in
            KerasWeight(name: name, tensor: try layerGroup.dataset(name).read())
        }
    }
}

/// Keras 3 `model.weights.h5` inside a `.keras` archive: each layer's variables are the
/// datasets `vars/0`, `vars/1`, … of the group at its attribute path (`layers/dense_1`),
/// followed by those of its sub-objects — `cell` (RNN cells), `forward_layer` then
/// `backward_layer` (Bidirectional), `layer` (wrappers), then any other child in name order.
struct KerasArchiveWeightStore: KerasWeightStore {
    let root: HDF5Group

    func weights(path: [KerasLayerSpec]) throws -> [KerasWeight] {
        let groupPath = path.map(\.archivePath).joined(separator: "/")
        guard try root.contains(groupPath) else {
            // The 2.13-era layout used `_layer_checkpoint_dependencies` instead of `layers`.
            let legacy = path.map { "_layer_checkpoint_dependencies" + $0.archivePath.dropFirst("layers".count) }
                .joined(separator: "/")
            if try root.contains(legacy) { return try collect(try root.group(legacy), prefix: legacy) }
            return []
        }
        return try collect(try root.group(groupPath), prefix: groupPath)
    }

    func collect(_ group: HDF5Group, prefix: String, depth: Int = 0) throws -> [KerasWeight] {
        guard depth < 16 else { return [] }
        var result: [KerasWeight] = []
        let children = try group.childNames()
        if children.contains("vars"), try group.kind(of: "vars") == .group {
            let vars = try group.group("vars")
            let indices = try vars.childNames().compactMap { Int($0) }.sorted()
            for i in indices {
                result.append(KerasWeight(name: "\(prefix)/vars/\(i)", tensor: try vars.dataset(String(i)).read()))
            }
        }
        let preferred = ["cell", "forward_layer", "backward_layer", "layer"]
        let others = children.filter { !preferred.contains($0) && $0 != "vars" && $0 != "layers" }.sorted()
        for child in preferred.filter(children.contains) + others where try group.kind(of: child) == .group {
            result += try collect(try group.group(child), prefix: "\(prefix)/\(child)", depth: depth + 1)
        }
        return result
    }
}
