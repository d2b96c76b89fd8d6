import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the archive was when a step planned: the content hashes of identities.json,
 * photo_index.json and the embedding store's manifest. A step that writes on top of what its
 * plan read (ingest, rescan) checks under the data lock that nothing changed in between —
 * another run, a restore — and otherwise refuses, so a plan never overwrites work it did not see.
 */
public record ArchiveSnapshot(Map<String, String> hashes) {

    /** The archive of {@code layout} as it is now ("absent" for a file that does not exist). */
    public static ArchiveSnapshot of(Layout layout) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (Path f : List.of(layout.data().resolve(ArchiveFiles.IDENTITIES), layout.data().resolve(ArchiveFiles.PHOTO_INDEX),
                layout.data().resolve(EmbeddingStore.FOLDER).resolve(EmbeddingStore.MANIFEST))) {
            try {
                out.put(f.toString(), Photos.contentHash(Files.readAllBytes(f)));
            } catch (NoSuchFileException e) {
                out.put(f.toString(), "absent");
            }
        }
        return new ArchiveSnapshot(out);
    }

    /** Refuses when the archive is no longer what {@code step} planned on. Call it holding the data lock. */
    public void checkUnchanged(Layout layout, String step) throws IOException {
        if (!of(layout).equals(this)) {
            throw new KitException("the archive in " + layout.data() + " changed since this " + step + " was planned (another run?)",
                    "run the " + step + " again: it plans afresh");
        }
    }
}
