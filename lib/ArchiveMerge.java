import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The push merge of shared/spec/matching-and-merge.md, "production wins": before the kit
 * overwrites the site's documents it folds in everything admins did on the site since the
 * local copy was taken. Pure functions over JSON trees; nothing here talks to the network.
 */
public final class ArchiveMerge {
    private ArchiveMerge() {}

    /** How many entries came from where; the keys of the report admins see. */
    public record Counts(int keptLocal, int keptProduction, int newLocal, int productionOnly) {
        public ObjectNode toJson() {
            ObjectNode o = JsonFiles.object();
            o.put("kept_local", keptLocal);
            o.put("kept_production", keptProduction);
            o.put("new_local", newLocal);
            o.put("production_only", productionOnly);
            return o;
        }
    }

    public record Result(ObjectNode document, Counts counts) {}

    /**
     * Identities: only local -> local; only production -> production; both -> production when an
     * admin changed state, name, merged_into, the set of faces or the set of negative_ids there,
     * else local (which may carry pipeline-only changes). Top-level keys other than
     * "identities" (schema_version, history, ...) come from local, as the site expects.
     */
    public static Result mergeIdentities(ObjectNode local, ObjectNode production) {
        ObjectNode merged = local.deepCopy();
        if (!merged.has("schema_version")) merged.put("schema_version", 1);
        ObjectNode out = JsonFiles.object();
        JsonNode loc = local.path("identities"), prod = production.path("identities");
        int keptLocal = 0, keptProd = 0, newLocal = 0, prodOnly = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = loc.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode p = prod.get(e.getKey());
            if (p == null) {
                out.set(e.getKey(), e.getValue().deepCopy());
                newLocal++;
            } else if (adminChanged(e.getValue(), p)) {
                out.set(e.getKey(), p.deepCopy());
                keptProd++;
            } else {
                out.set(e.getKey(), e.getValue().deepCopy());
                keptLocal++;
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = prod.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!loc.has(e.getKey())) {
                out.set(e.getKey(), e.getValue().deepCopy());
                prodOnly++;
            }
        }
        merged.set("identities", out);
        // Top-level keys only production has (a newer site feature) are kept too.
        for (Iterator<String> it = production.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!merged.has(k)) merged.set(k, production.get(k).deepCopy());
        }
        return new Result(merged, new Counts(keptLocal, keptProd, newLocal, prodOnly));
    }

    /** True when production's copy differs in something only a person on the site changes. */
    static boolean adminChanged(JsonNode local, JsonNode production) {
        return !Objects.equals(text(local, "state"), text(production, "state"))
                || !Objects.equals(text(local, "name"), text(production, "name"))
                || !Objects.equals(text(local, "merged_into"), text(production, "merged_into"))
                || !faceIds(local).equals(faceIds(production))
                || !strings(local.path("negative_ids")).equals(strings(production.path("negative_ids")));
    }

    /** A field's value for comparison; absent and null are the same. */
    private static String text(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? null : v.isTextual() ? v.asText() : JsonFiles.compact(v);
    }

    /** Anchors (plain ids or {"face_id": ...} objects) and candidates, as one set. */
    public static Set<String> faceIds(JsonNode identity) {
        Set<String> out = new HashSet<>();
        for (JsonNode a : identity.path("anchor_ids")) {
            if (a.isTextual()) out.add(a.asText());
            else if (a.has("face_id")) out.add(a.get("face_id").asText());
        }
        for (JsonNode c : identity.path("candidate_ids")) {
            if (c.isTextual()) out.add(c.asText());
            else if (c.has("face_id")) out.add(c.get("face_id").asText());
        }
        return out;
    }

    private static Set<String> strings(JsonNode arr) {
        Set<String> out = new HashSet<>();
        for (JsonNode n : arr) out.add(n.isTextual() ? n.asText() : JsonFiles.compact(n));
        return out;
    }

    /**
     * Photo index: per photo, only local -> local, only production -> production, both and
     * different -> production, same -> local. face_to_photo: local's entries overlaid by production's.
     */
    public static Result mergePhotoIndex(ObjectNode local, ObjectNode production) {
        ObjectNode merged = local.deepCopy();
        if (!merged.has("schema_version")) merged.put("schema_version", 1);
        ObjectNode photos = JsonFiles.object();
        JsonNode loc = local.path("photos"), prod = production.path("photos");
        int keptLocal = 0, keptProd = 0, newLocal = 0, prodOnly = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = loc.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode p = prod.get(e.getKey());
            if (p == null) {
                photos.set(e.getKey(), e.getValue().deepCopy());
                newLocal++;
            } else if (!p.equals(e.getValue())) {
                photos.set(e.getKey(), p.deepCopy());
                keptProd++;
            } else {
                photos.set(e.getKey(), e.getValue().deepCopy());
                keptLocal++;
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = prod.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!loc.has(e.getKey())) {
                photos.set(e.getKey(), e.getValue().deepCopy());
                prodOnly++;
            }
        }
        merged.set("photos", photos);
        ObjectNode f2p = local.path("face_to_photo").isObject() ? ((ObjectNode) local.get("face_to_photo")).deepCopy() : JsonFiles.object();
        for (Iterator<Map.Entry<String, JsonNode>> it = production.path("face_to_photo").fields(); it.hasNext(); ) {
            var e = it.next();
            f2p.set(e.getKey(), e.getValue().deepCopy());
        }
        merged.set("face_to_photo", f2p);
        // A photo kept as production's copy may lack faces this kit added to it since (./jbang rescan).
        // face_to_photo keeps local's entries, so such a face would be mapped to a photo that does not
        // list it: the photo's face_ids get them too, after production's own, in local's order.
        for (Iterator<Map.Entry<String, JsonNode>> it = loc.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode p = prod.get(e.getKey());
            if (p == null || p.equals(e.getValue()) || !(photos.get(e.getKey()) instanceof ObjectNode chosen)) continue;
            Set<String> listed = strings(chosen.path("face_ids"));
            for (JsonNode f : e.getValue().path("face_ids")) {
                String id = f.asText();
                if (listed.contains(id) || !e.getKey().equals(f2p.path(id).asText(null))) continue;
                (chosen.get("face_ids") instanceof com.fasterxml.jackson.databind.node.ArrayNode a ? a : chosen.putArray("face_ids")).add(id);
                listed.add(id);
            }
        }
        for (Iterator<String> it = production.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!merged.has(k)) merged.set(k, production.get(k).deepCopy());
        }
        return new Result(merged, new Counts(keptLocal, keptProd, newLocal, prodOnly));
    }
}
