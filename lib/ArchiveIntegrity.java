import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks that the archive's two documents agree with each other before anything is pushed:
 * a push of inconsistent data would spread the damage to the site. Returns every problem
 * found (capped), so one run shows them all.
 */
public final class ArchiveIntegrity {
    private static final int MAX_REPORTED = 20;

    private ArchiveIntegrity() {}

    public static List<String> problems(JsonNode identities, JsonNode photoIndex) {
        List<String> out = new ArrayList<>();
        JsonNode ids = identities.path("identities");
        JsonNode photos = photoIndex.path("photos");
        JsonNode f2p = photoIndex.path("face_to_photo");
        // faces already named by the identity checks are not named twice
        Set<String> reported = new HashSet<>();

        // every face of an identity is registered, and its photo lists it
        for (var it = ids.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode identity = e.getValue();
            String who = "identity " + e.getKey() + " (" + identity.path("name").asText("?") + ")";
            for (String face : ArchiveMerge.faceIds(identity)) {
                JsonNode photoId = f2p.get(face);
                if (photoId == null) {
                    add(out, who + " holds face " + face + ", which is not in photo_index.json's face_to_photo");
                    continue;
                }
                JsonNode photo = photos.get(photoId.asText());
                if (photo == null) {
                    add(out, "face " + face + " of " + who + " points to photo " + photoId.asText() + ", which is not in photo_index.json");
                    reported.add(face);
                } else if (!contains(photo.path("face_ids"), face)) {
                    add(out, "photo " + photoId.asText() + " does not list face " + face + " of " + who);
                    reported.add(face);
                }
            }
            if (Identities.isMerged(identity) && !ids.has(identity.get("merged_into").asText())) {
                add(out, who + " is merged into " + identity.get("merged_into").asText() + ", which does not exist");
            }
        }
        // every face_to_photo entry points to a photo that exists and lists that face: the site
        // shows a face through this map, so a dangling entry is a broken link on the site
        Set<String> listed = new HashSet<>();
        for (JsonNode photo : photos) for (JsonNode f : photo.path("face_ids")) listed.add(f.asText());
        for (var it = f2p.fields(); it.hasNext(); ) {
            var e = it.next();
            String face = e.getKey(), photoId = e.getValue().asText();
            if (reported.contains(face)) continue;
            if (!photos.has(photoId)) {
                add(out, "face_to_photo entry " + face + " points to photo " + photoId + ", which is not in photo_index.json");
            } else if (!listed.contains(face)) {
                add(out, "face_to_photo entry " + face + " (photo " + photoId + ") names a face that no photo lists");
            }
        }
        // no two photos share a basename: the site builds each photo's public URL from it
        Map<String, String> byBasename = new HashMap<>();
        for (var it = photos.fields(); it.hasNext(); ) {
            var e = it.next();
            String path = e.getValue().path("path").asText("");
            String base = path.substring(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
            if (base.isEmpty()) continue;
            String other = byBasename.putIfAbsent(base, e.getKey());
            if (other != null) add(out, "photos " + other + " and " + e.getKey() + " share the file name " + base + " (their public URLs would collide)");
        }
        if (out.size() > MAX_REPORTED) {
            int more = out.size() - MAX_REPORTED;
            out = new ArrayList<>(out.subList(0, MAX_REPORTED));
            out.add("... and " + more + " more");
        }
        return out;
    }

    private static void add(List<String> out, String problem) {
        out.add(problem);
    }

    private static boolean contains(JsonNode arr, String s) {
        for (JsonNode n : arr) if (s.equals(n.asText())) return true;
        return false;
    }
}
