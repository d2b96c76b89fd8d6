import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

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
     * Reads and checks both documents and the store. The snapshot comes first: a write that
     * lands while they are read then shows as a change at apply, never as a plan on stale data.
     */
    public static PlannedArchive read(Layout layout) throws IOException {
        ArchiveSnapshot snapshot = ArchiveSnapshot.of(layout);
        ArchiveFiles files = new ArchiveFiles(layout.data());
        ObjectNode identities = files.readIdentities();
        ObjectNode index = files.readPhotoIndex();
        return new PlannedArchive(index, identities, EmbeddingStore.open(layout.data()), snapshot, 0);
    }

    /** The same, with the grouping threshold of the model the plan settled on. */
    public PlannedArchive withGroupingThreshold(double threshold) {
        return new PlannedArchive(index, identities, store, snapshot, threshold);
    }
}
