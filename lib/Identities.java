import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * How the kit reads and makes the records of identities.json (data-files.md), in one place:
 * whether an identity was merged away, which faces it holds, the face → photo map, and the
 * record of a new identity.
 */
public final class Identities {
    private Identities() {}

    /**
     * The one rule for "merged away": {@code merged_into} is a non-empty string. Null, absent or
     * "" mean the identity stands (the site, in Python, reads "" as false too).
     */
    public static boolean isMerged(JsonNode ident) {
        JsonNode m = ident == null ? null : ident.get("merged_into");
        return m != null && m.isTextual() && !m.asText().isEmpty();
    }

    /** A face id from an anchor entry: a string, or an object {"face_id": ...}. */
    public static String faceIdOf(JsonNode entry) {
        if (entry == null || entry.isNull()) return null;
        if (entry.isTextual()) return entry.asText();
        JsonNode f = entry.get("face_id");
        return f == null || f.isNull() ? null : f.asText();
    }

    /** Anchors then candidates, each face once, in document order. */
    public static List<String> faceIds(JsonNode ident) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (JsonNode a : ident.path("anchor_ids")) {
            String id = faceIdOf(a);
            if (id != null) out.add(id);
        }
        for (JsonNode c : ident.path("candidate_ids")) {
            String id = faceIdOf(c);
            if (id != null) out.add(id);
        }
        return new ArrayList<>(out);
    }

    /** photo_index.json's face_to_photo as a map (empty for a null index). */
    public static Map<String, String> faceToPhoto(ObjectNode photoIndex) {
        Map<String, String> out = new HashMap<>();
        if (photoIndex == null) return out;
        for (var it = photoIndex.path("face_to_photo").fields(); it.hasNext(); ) {
            var e = it.next();
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    /**
     * The record of a new identity, with the fields in the order the archive writes them:
     * identity_id, name, state, anchor_ids, candidate_ids, negative_ids, version_id 1,
     * created_at, updated_at, metadata, provenance. {@code now}: {@link Timestamps#archive()}.
     */
    public static ObjectNode newIdentity(String id, String name, String state, List<String> anchors, ObjectNode provenance, String now) {
        ObjectNode ident = JsonFiles.object();
        ident.put("identity_id", id);
        ident.put("name", name);
        ident.put("state", state);
        ArrayNode a = ident.putArray("anchor_ids");
        anchors.forEach(a::add);
        ident.putArray("candidate_ids");
        ident.putArray("negative_ids");
        ident.put("version_id", 1);
        ident.put("created_at", now);
        ident.put("updated_at", now);
        ident.putObject("metadata");
        ident.set("provenance", provenance == null ? JsonFiles.object() : provenance);
        return ident;
    }
}
