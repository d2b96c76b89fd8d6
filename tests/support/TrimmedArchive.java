import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * An archive as the earlier pipeline left it (InsightFace at a 640 px input found no face under
 * ~40 px): one photo's faces narrower than a width are taken out of its record — its face_ids and
 * face_to_photo, the identities, the embedding store and the crops — as if they had never been
 * found. Used by the rescan's test and benchmark.
 */
public final class TrimmedArchive {
    private TrimmedArchive() {}

    /** A face taken out: its id and box. */
    public record Removed(String faceId, float[] box) {}

    /** Removes the faces of {@code photoId} narrower than {@code minWidth} px; returns them. */
    public static List<Removed> trim(Layout layout, String photoId, float minWidth) throws Exception {
        ArchiveFiles files = new ArchiveFiles(layout.data());
        ObjectNode index = files.readPhotoIndex();
        ObjectNode identities = files.readIdentities();
        EmbeddingStore store = EmbeddingStore.open(layout.data());
        List<Removed> removed = new ArrayList<>();
        Set<String> gone = new HashSet<>();
        ArrayNode ids = (ArrayNode) index.get("photos").get(photoId).get("face_ids");
        for (Iterator<JsonNode> it = ids.elements(); it.hasNext(); ) {
            String id = it.next().asText();
            float[] b = store.get(id).bbox();
            if (b[2] - b[0] < minWidth) {
                removed.add(new Removed(id, b));
                gone.add(id);
                it.remove();
            }
        }
        ((ObjectNode) index.get("face_to_photo")).remove(gone);
        ObjectNode all = (ObjectNode) identities.get("identities");
        for (Iterator<java.util.Map.Entry<String, JsonNode>> it = all.fields(); it.hasNext(); ) {
            ObjectNode ident = (ObjectNode) it.next().getValue();
            int left = 0;
            for (String k : new String[] {"anchor_ids", "candidate_ids"}) {
                if (!(ident.get(k) instanceof ArrayNode list)) continue;
                for (Iterator<JsonNode> f = list.elements(); f.hasNext(); ) {
                    JsonNode a = f.next();
                    if (gone.contains(a.isObject() ? a.path("face_id").asText() : a.asText())) f.remove();
                }
                left += list.size();
            }
            if (left == 0) it.remove();
        }
        files.writePhotoIndex(index);
        files.writeIdentities(identities);
        store.replaceAll(store.faces().stream().filter(f -> !gone.contains(f.faceId())).toList());
        for (String id : gone) Files.deleteIfExists(layout.crops().resolve(id + ".jpg"));
        return removed;
    }

    /** Every file under {@code dir} with its bytes, for "nothing changed" checks (relative path -> bytes). */
    public static java.util.Map<String, byte[]> snapshot(Path dir) throws Exception {
        java.util.Map<String, byte[]> out = new java.util.TreeMap<>();
        if (!Files.exists(dir)) return out;
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) out.put(dir.relativize(p).toString(), Files.readAllBytes(p));
        }
        return out;
    }
}
