import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.util.Map;
import java.util.TreeMap;

/**
 * The one rule for an archive whose faces were embedded by another model than the active one
 * (typically: the archive's faces come from InsightFace's w600k_r50, and the kit's default
 * models are active). Vectors of two models cannot be compared, so new faces could never be
 * matched with the archive's. Said FIRST, before any backup, download or analysis, with the two
 * ways out: take InsightFace's own files ({@code ./jbang fetch-models --from-insightface}), or
 * re-embed the archive with the active model ({@code ./jbang reembed}).
 *
 * <p>The pipeline, ingest and rescan refuse ({@link OnMismatch#REFUSE}): what they add could not
 * be matched. Cluster compares stored faces only, and reembed is itself the fix: they say it and
 * go on ({@link OnMismatch#WARN}).
 */
public final class ModelCheck {
    private ModelCheck() {}

    public enum OnMismatch { REFUSE, WARN }

    public static final String FROM_INSIGHTFACE = "./jbang fetch-models --from-insightface";
    public static final String REEMBED = "./jbang reembed";

    /**
     * facesByModel: the archive's stored faces per embedding model; active: the active
     * recognizer's embedding model (null when no models are installed); problem/fix: what to
     * say (null when the archive and the active model agree, or there is nothing to compare).
     */
    public record Verdict(Map<String, Integer> facesByModel, String active, String problem, String fix) {
        public boolean mismatch() {
            return problem != null;
        }
    }

    /** The verdict for {@code layout}'s archive and models; an unreadable store or models.json gives no verdict (their own checks report them). */
    public static Verdict of(Layout layout) {
        try {
            if (!Files.isDirectory(layout.data())) return new Verdict(new TreeMap<>(), null, null, null);
            return of(layout, EmbeddingStore.open(layout.data()));
        } catch (KitException e) {
            return new Verdict(new TreeMap<>(), null, null, null);
        }
    }

    /** The verdict for a store already opened (a step that loads the store anyway need not read it twice). */
    public static Verdict of(Layout layout, EmbeddingStore store) {
        Map<String, Integer> byModel = new TreeMap<>();
        for (EmbeddingStore.Face f : store.faces()) byModel.merge(f.model(), 1, Integer::sum);
        String active = activeModel(layout);
        if (byModel.isEmpty()) return new Verdict(byModel, active, null, null);
        int total = byModel.values().stream().mapToInt(Integer::intValue).sum();
        boolean legacy = byModel.containsKey(EmbeddingStore.LEGACY_MODEL);
        String archive = byModel.size() == 1 ? byModel.keySet().iterator().next() : null;
        if (active == null) {
            if (!legacy) return new Verdict(byModel, null, null, null);  // "no face models yet" is the pre-flight's to say
            return new Verdict(byModel, null, "the archive's " + total + " faces were embedded with InsightFace's "
                    + EmbeddingStore.LEGACY_MODEL + ", and no face models are installed yet",
                    "take InsightFace's own files from this computer: " + FROM_INSIGHTFACE + " (or "
                            + "./jbang fetch-models, then " + REEMBED + " to re-embed every face with the default models)");
        }
        if (active.equals(archive)) return new Verdict(byModel, active, null, null);
        String faces = byModel.size() == 1 ? "the archive's " + total + " faces were embedded with " + describe(archive)
                : "the archive's faces were embedded with several models (" + counts(byModel) + ")";
        String problem = faces + ", but the active recognizer makes " + active
                + " vectors: faces of different models can never be compared, so new faces could not be matched with the archive's";
        String fix = legacy
                ? "use the archive's own model: " + FROM_INSIGHTFACE + " (takes det_10g.onnx and w600k_r50.onnx from"
                        + " ~/.insightface/models/buffalo_l; or give its folder), or " + REEMBED + " (re-embeds all " + total
                        + " faces with " + active + " from the archive's photos)"
                : REEMBED + " (re-embeds all " + total + " faces with " + active + "), or select the archive's model again with"
                        + " ./jbang fetch-models --recognizer NAME";
        return new Verdict(byModel, active, problem, fix);
    }

    /**
     * Says the mismatch, if any, before anything else: REFUSE throws (exit 1, nothing started),
     * WARN prints it and returns. Returns the verdict either way.
     */
    public static Verdict beforeWork(Layout layout, Console console, OnMismatch onMismatch) {
        return say(of(layout), console, onMismatch);
    }

    /** The same for a store already opened (the ingest's plan reads it anyway: not twice). */
    public static Verdict beforeWork(Layout layout, EmbeddingStore store, Console console, OnMismatch onMismatch) {
        return say(of(layout, store), console, onMismatch);
    }

    private static Verdict say(Verdict v, Console console, OnMismatch onMismatch) {
        if (!v.mismatch()) return v;
        if (onMismatch == OnMismatch.REFUSE) {
            throw new KitException(v.problem() + ". Nothing was started", v.fix());
        }
        console.warn(v.problem());
        console.warn("  -> " + v.fix());
        return v;
    }

    private static String activeModel(Layout layout) {
        try {
            return ModelCatalog.activeEmbeddingModelIfAny(layout.models());
        } catch (KitException e) {
            return null;  // a damaged models.json is the pre-flight's to report
        }
    }

    private static String describe(String model) {
        return EmbeddingStore.LEGACY_MODEL.equals(model) ? "InsightFace's " + model : model;
    }

    private static String counts(Map<String, Integer> byModel) {
        StringBuilder b = new StringBuilder();
        byModel.forEach((m, n) -> b.append(b.length() == 0 ? "" : ", ").append(n).append(" with ").append(m));
        return b.toString();
    }
}
