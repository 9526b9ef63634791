import GraftCore
import GraftDL4J
import GraftKeras

/// Turns a layer given in a foreign notation into an IR op, for recipes that add a layer:
/// a Keras layer config (`{"class_name": "Dense", "config": {…}}`) or a DL4J layer JSON
/// (`{"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer", …}` or legacy `{"dense": {…}}`).
/// The op carries no weights; the recipe operation initialises them.
public enum ForeignLayerParser {
    public static func parse(json: JSONValue) throws -> Op {
        if json["class_name"] != nil { return try KerasLayerRegistry.untrainedOp(json) }
        return try DL4JLayerConfig.untrainedOp(json)
    }
}
