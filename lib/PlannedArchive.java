import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The archive as a step's plan read it — both documents, the embedding store, the snapshot
 * taken before reading them, and the grouping threshold of the model in use — so that apply
 * writes on top of exactly what the plan saw (ingest and rescan), after
 * {@link ArchiveSnapshot#checkUnchanged} under the data lock.
 */
public final class PlannedArchive {
    final ObjectNode index, identities;
    final EmbeddingStore store;
    final ArchiveSnapshot snapshot;
    final double groupingThreshold;

    private PlannedArchive(ObjectNode index, ObjectNode identities, EmbeddingStore store, ArchiveSnapshot snapshot, double groupingThreshold) {
        this.index = index;
        this.identities = identities;
        this.store = store;
        this.snapshot = snapshot;
        this.groupingThreshold = groupingThreshold;
    }

    /**
     * Reads and checks both documents and the store (side by side: ArchiveRead). The snapshot comes
     * first: a write that lands while they are read then shows as a change at apply, never as a
     * plan on stale data.
     */
    public static PlannedArchive read(Layout layout) throws Exception {
        ArchiveSnapshot snapshot = ArchiveSnapshot.of(layout);
        ArchiveRead read = ArchiveRead.of(new ArchiveFiles(layout.data()), () -> EmbeddingStore.open(layout.data()));
        return new PlannedArchive(read.photoIndex(), read.identities(), read.store(), snapshot, 0);
    }

    /**
     * The archive for the embedding model the plan settled on (null: none), with that model's
     * grouping threshold, and {@code otherModels}: what to say when the store also holds faces of
     * other models, which matching cannot compare with the new ones (null when it holds none).
     */
    public record ForModel(PlannedArchive archive, String otherModels) {}

    public ForModel forModel(String model, Layout layout) {
        if (model == null) return new ForModel(this, null);
        double threshold = MatchThresholds.forModel(model, layout.models()).grouping;
        Set<String> others = new LinkedHashSet<>(store.models());
        others.remove(model);
        String warning = others.isEmpty() ? null : "the archive's stored faces were embedded by " + String.join(", ", others)
                + ", the new ones by " + model + ": faces of different models cannot be compared, so matching will skip them. "
                + "Run ./jbang reembed to re-embed every stored photo with " + model + ", or select the other model with ./jbang fetch-models.";
        return new ForModel(new PlannedArchive(index, identities, store, snapshot, threshold), warning);
    }
}
