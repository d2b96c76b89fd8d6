import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The identities an ingest creates: a job's new faces grouped into would-be people
 * ({@link FaceGrouping}), each group one INBOX identity named "Unidentified Person NNN",
 * numbered on from the highest such name in the archive. Faces of the job that an interrupted
 * earlier run registered but never put in an identity ("orphans") are grouped along.
 */
public final class InboxIdentities {
    private InboxIdentities() {}

    private static final Pattern UNIDENTIFIED = Pattern.compile("Unidentified Person (\\d+)");

    /** A job's faces waiting for an identity, each with its photo id and the file it is in (in grouping order). */
    public static final class Waiting {
        final List<EmbeddingStore.Face> faces = new ArrayList<>();
        final Map<String, String> photoOf = new LinkedHashMap<>();
        final Map<String, String> fileOf = new LinkedHashMap<>();

        public void add(EmbeddingStore.Face face, String photoId, String file) {
            if (photoOf.containsKey(face.faceId())) return;
            faces.add(face);
            photoOf.put(face.faceId(), photoId);
            fileOf.put(face.faceId(), file);
        }

        public int size() {
            return faces.size();
        }

        public boolean isEmpty() {
            return faces.isEmpty();
        }
    }

    /** One identity created. */
    public record Created(String identityId, String name, List<String> faceIds) {}

    /**
     * Face ids of {@code jobId} in photo_index.json that are in no identity (an interrupted run),
     * in index order.
     */
    public static List<String> orphans(String jobId, JsonNode index, JsonNode identities) {
        Set<String> inIdentity = new HashSet<>();
        identities.path("identities").forEach(ident -> {
            for (String k : new String[] {"anchor_ids", "candidate_ids"}) {
                for (JsonNode a : ident.path(k)) inIdentity.add(a.isObject() ? a.path("face_id").asText() : a.asText());
            }
        });
        List<String> out = new ArrayList<>();
        index.path("photos").fields().forEachRemaining(e -> {
            if (!jobId.equals(e.getValue().path("job_id").asText())) return;
            for (JsonNode f : e.getValue().path("face_ids")) if (!inIdentity.contains(f.asText())) out.add(f.asText());
        });
        return out;
    }

    /**
     * Groups {@code waiting} (distance below {@code threshold}, never two faces of one photo) and
     * adds one INBOX identity per group to {@code identities} (the document, not written here).
     */
    public static List<Created> add(ObjectNode identities, String jobId, Waiting waiting, double threshold) {
        List<Created> out = new ArrayList<>();
        if (waiting.isEmpty()) return out;
        List<List<String>> groups = FaceGrouping.group(waiting.faces, waiting.photoOf, threshold);
        int number = highestUnidentified(identities);
        String now = Timestamps.archive();
        ObjectNode all = (ObjectNode) identities.get("identities");
        for (List<String> g : groups) {
            number++;
            String id = UUID.randomUUID().toString();
            ObjectNode prov = JsonFiles.object();
            prov.put("source", "inbox_ingest");
            prov.put("job_id", jobId);
            prov.put("filename", waiting.fileOf.get(g.get(0)));
            prov.put("ingested_at", now);
            prov.put("grouped_faces", g.size());
            ObjectNode ident = Identities.newIdentity(id, String.format("Unidentified Person %03d", number), "INBOX", g, prov, now);
            all.set(id, ident);
            out.add(new Created(id, ident.get("name").asText(), List.copyOf(g)));
        }
        return out;
    }

    static int highestUnidentified(JsonNode ids) {
        int max = 0;
        for (JsonNode ident : ids.path("identities")) {
            java.util.regex.Matcher mm = UNIDENTIFIED.matcher(ident.path("name").asText());
            if (mm.matches()) max = Math.max(max, Integer.parseInt(mm.group(1)));
        }
        return max;
    }
}
