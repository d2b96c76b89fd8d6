//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The distance thresholds of one embedding model (matching-and-merge.md, "Distances and
 * thresholds"). Thresholds belong to the model that made the vectors: they are calibrated
 * per model and kept in models/models.json under {@code thresholds.<embedding model>}.
 * The archive's own values, measured for InsightFace w600k_r50 on its golden set, are built in
 * and used when models.json has no entry for the model.
 */
public final class MatchThresholds {
    public static final String MODELS_JSON = "models.json";

    public final String model;
    public final double veryHigh, high, moderate, medium, low, grouping;
    /** How the values were measured, as models.json says. */
    public final String calibration;
    /** False when the model has no calibrated entry and the archive's w600k_r50 values stand in. */
    public final boolean calibrated;

    public MatchThresholds(String model, double veryHigh, double high, double moderate, double medium, double low,
                           double grouping, String calibration, boolean calibrated) {
        this.model = model;
        this.veryHigh = veryHigh;
        this.high = high;
        this.moderate = moderate;
        this.medium = medium;
        this.low = low;
        this.grouping = grouping;
        this.calibration = calibration;
        this.calibrated = calibrated;
    }

    /** The archive's values for w600k_r50 (golden set, 90 faces, 23 people, 4,005 pairs). */
    public static MatchThresholds archiveDefaults() {
        return new MatchThresholds(EmbeddingStore.LEGACY_MODEL, 0.80, 1.05, 1.15, 1.20, 1.25, 0.95,
                "archive golden set, 90 faces, 23 people", true);
    }

    /** thresholds[embeddingModel] of modelsDir/models.json; the archive's w600k_r50 values when absent. */
    public static MatchThresholds forModel(String embeddingModel, Path modelsDir) {
        ObjectNode doc = readModelsJson(modelsDir);
        JsonNode entry = doc == null ? null : doc.path("thresholds").get(embeddingModel);
        if (entry != null && entry.isObject()) return fromEntry(embeddingModel, entry, modelsDir.resolve(MODELS_JSON));
        MatchThresholds archive = archiveDefaults();
        if (EmbeddingStore.LEGACY_MODEL.equals(embeddingModel)) return archive;
        return new MatchThresholds(embeddingModel, archive.veryHigh, archive.high, archive.moderate, archive.medium,
                archive.low, archive.grouping, "not calibrated for " + embeddingModel + "; the archive's w600k_r50 values stand in", false);
    }

    /** The label of a distance: VERY HIGH, HIGH, MODERATE or LOW (matching-and-merge.md). */
    public String label(double d) {
        if (d < veryHigh) return "VERY HIGH";
        if (d < high) return "HIGH";
        if (d < moderate) return "MODERATE";
        return "LOW";
    }

    @Override
    public String toString() {
        return model + ": very_high " + veryHigh + ", high " + high + ", moderate " + moderate + ", medium " + medium
                + ", low " + low + ", grouping " + grouping + " (" + calibration + ")";
    }

    private static MatchThresholds fromEntry(String model, JsonNode e, Path file) {
        return new MatchThresholds(model, need(e, "very_high", file, model), need(e, "high", file, model),
                need(e, "moderate", file, model), need(e, "medium", file, model), need(e, "low", file, model),
                need(e, "grouping", file, model), e.path("calibration").asText(""), true);
    }

    private static double need(JsonNode e, String key, Path file, String model) {
        JsonNode v = e.get(key);
        if (v == null || !v.isNumber()) {
            throw new KitException(file + ": thresholds." + model + "." + key + " is missing or not a number",
                    "fix the entry, or run ./jbang steps/fetch_models.java again to rewrite models.json");
        }
        return v.asDouble();
    }

    private static ObjectNode readModelsJson(Path modelsDir) {
        if (modelsDir == null) return null;
        Path file = modelsDir.resolve(MODELS_JSON);
        try {
            return JsonFiles.readObject(file);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new KitException("cannot read " + file + ": " + e.getMessage(), "check the file's permissions", e);
        }
    }
}
