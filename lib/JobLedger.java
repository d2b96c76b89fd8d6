import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How far each upload job got, whichever way the steps were run (the pipeline or by hand):
 * {@code data/runs/jobs.json}. Every step records here what it finished for a job, and step 7
 * asks {@link #clearDecision} — the kit's one rule for the one irreversible action, clearing a
 * job from the site's staging area. Written atomically after every change; fields it does not
 * know survive. A ledger opened for a dry run refuses every write.
 */
public final class JobLedger {
    public static final String FILE = "jobs.json";

    /** What a job has finished, in the order the pipeline reaches them. */
    public enum Milestone {
        DOWNLOADED, INGESTED, UPLOADED, PUSHED, CLEARED;

        /** The key in jobs.json ("downloaded", ...). */
        public String key() {
            return name().toLowerCase();
        }
    }

    /** A staged file the kit did not take into the archive (refused name, failed download): it stays on the site. */
    public record LeftFile(String path, String why) {}

    /** One job as the ledger knows it. {@code reached} holds each milestone's time. */
    public record Job(String jobId, Map<Milestone, String> reached, Map<String, Long> files, List<LeftFile> leftOnSite,
                      List<String> photoIds) {
        public boolean has(Milestone m) {
            return reached.containsKey(m);
        }
    }

    /**
     * Step 7's answer for one job: clear it or not, why not, and what to run next.
     * {@code notInArchive} lists what a forced clear would lose (empty unless forced).
     */
    public record ClearDecision(String jobId, boolean clear, String why, String next, List<String> notInArchive) {}

    private final Path file;
    private final KitContext.Mode mode;
    private final ObjectNode doc;

    private JobLedger(Path file, KitContext.Mode mode, ObjectNode doc) {
        this.file = file;
        this.mode = mode;
        this.doc = doc;
    }

    /** The ledger in {@code runsDir}; a missing file is an empty ledger. A damaged file is a KitException naming it. */
    public static JobLedger open(Path runsDir, KitContext.Mode mode) {
        Path f = runsDir.resolve(FILE);
        ObjectNode doc;
        try {
            doc = JsonFiles.readObject(f);
        } catch (NoSuchFileException e) {
            doc = JsonFiles.object();
            doc.put("schema_version", 1);
        } catch (KitException e) {
            throw new KitException("the job ledger " + f + " is damaged: " + e.getMessage(),
                    "move it aside (it only records progress; the next steps rebuild what they find) and run again", e);
        } catch (IOException e) {
            throw new KitException("cannot read the job ledger " + f + ": " + e.getMessage(), "check the permissions of " + runsDir, e);
        }
        if (!doc.path("jobs").isObject()) doc.putObject("jobs");
        return new JobLedger(f, mode, doc);
    }

    public Path file() {
        return file;
    }

    // ---- reading ---------------------------------------------------------------------------

    public List<String> jobIds() {
        List<String> out = new ArrayList<>();
        doc.get("jobs").fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** The job, or null when the ledger has never seen it. */
    public Job job(String jobId) {
        JsonNode j = doc.get("jobs").get(jobId);
        if (j == null || !j.isObject()) return null;
        Map<Milestone, String> reached = new EnumMap<>(Milestone.class);
        for (Milestone m : Milestone.values()) if (j.hasNonNull(m.key())) reached.put(m, j.get(m.key()).asText());
        Map<String, Long> files = new LinkedHashMap<>();
        for (JsonNode f : j.path("files")) files.put(f.path("path").asText(), f.path("size").asLong());
        List<LeftFile> left = new ArrayList<>();
        for (JsonNode l : j.path("left_on_site")) left.add(new LeftFile(l.path("path").asText(), l.path("why").asText()));
        List<String> photos = new ArrayList<>();
        for (JsonNode p : j.path("photo_ids")) photos.add(p.asText());
        return new Job(jobId, reached, files, left, photos);
    }

    public boolean reached(String jobId, Milestone m) {
        Job j = job(jobId);
        return j != null && j.has(m);
    }

    /** Jobs that reached {@code m} and not {@code notYet} (null: any). */
    public List<String> jobsAt(Milestone m, Milestone notYet) {
        List<String> out = new ArrayList<>();
        for (String id : jobIds()) {
            Job j = job(id);
            if (j.has(m) && (notYet == null || !j.has(notYet))) out.add(id);
        }
        return out;
    }

    // ---- the clearing rule -----------------------------------------------------------------

    /**
     * Whether step 7 may clear {@code jobId} from staging. The only rule for it, used by the
     * pipeline and by {@code download --clear-after} alike:
     * <ul>
     *   <li>never a job with a file left on the site (refused name, failed download), nor one whose
     *       staging folder now holds a file the kit did not download (the site changed since);</li>
     *   <li>otherwise only a job that is downloaded, ingested, uploaded (verified in the bucket) and
     *       pushed (verified on the site);</li>
     *   <li>{@code force} clears a downloaded job anyway; the decision then names what is not yet
     *       in the archive, for the warning.</li>
     * </ul>
     * @param stagedNow the job's files in the site's staging listing right now (path → size)
     */
    public ClearDecision clearDecision(String jobId, Map<String, Long> stagedNow, boolean force) {
        return clearDecision(jobId, stagedNow, force, Set.of());
    }

    /**
     * The same rule, with {@code assumed} milestones taken as reached: the pipeline's dry run asks
     * which jobs would be cleared once its upload and push succeed.
     */
    public ClearDecision clearDecision(String jobId, Map<String, Long> stagedNow, boolean force, Set<Milestone> assumed) {
        Job j = withAssumed(job(jobId), assumed);
        // Downloading again cannot fetch a name the kit refuses: that fix is on the site.
        String fixOnSite = "rename or re-upload a refused file on the site (a failed download needs nothing), then ./jbang download";
        if (j != null && !j.leftOnSite().isEmpty()) return no(jobId, leftText(j), fixOnSite);
        if (j == null || !j.has(Milestone.DOWNLOADED)) return no(jobId, "it was never downloaded completely", "./jbang download");
        if (j.has(Milestone.CLEARED)) return no(jobId, "it was cleared already", "nothing");
        List<String> unknown = new ArrayList<>();
        stagedNow.forEach((path, size) -> {
            Long had = j.files().get(path);
            if (had == null || had.longValue() != size.longValue()) unknown.add(path);
        });
        if (!unknown.isEmpty()) {
            return no(jobId, "the site's staging holds " + unknown.size() + " file(s) the kit has not downloaded (e.g. "
                    + Names.printable(unknown.get(0)) + ")", "./jbang download, then the steps after it");
        }
        List<String> missing = new ArrayList<>();
        String next = null;
        if (!j.has(Milestone.INGESTED)) {
            missing.add("its faces are not in the archive (not ingested)");
            next = "./jbang ingest --directory raw_photos/pending/" + jobId + " --job-id " + jobId;
        }
        if (!j.has(Milestone.UPLOADED)) {
            missing.add("its photos and crops are not verified in the bucket (not uploaded)");
            if (next == null) next = "./jbang upload --execute";
        }
        if (!j.has(Milestone.PUSHED)) {
            missing.add("its records are not verified on the site (not pushed)");
            if (next == null) next = "./jbang push";
        }
        if (missing.isEmpty()) return new ClearDecision(jobId, true, "downloaded, ingested, uploaded and pushed", null, List.of());
        if (force) return new ClearDecision(jobId, true, "forced", null, missing);
        return no(jobId, String.join("; ", missing), next);
    }

    private static Job withAssumed(Job j, Set<Milestone> assumed) {
        if (j == null || assumed.isEmpty()) return j;
        Map<Milestone, String> reached = new EnumMap<>(Milestone.class);
        reached.putAll(j.reached());
        for (Milestone m : assumed) reached.putIfAbsent(m, "assumed");
        return new Job(j.jobId(), reached, j.files(), j.leftOnSite(), j.photoIds());
    }

    private static String leftText(Job j) {
        LeftFile f = j.leftOnSite().get(0);
        return j.leftOnSite().size() + " of its files never reached the archive (e.g. " + Names.printable(f.path()) + ": " + f.why() + ")";
    }

    private static ClearDecision no(String jobId, String why, String next) {
        return new ClearDecision(jobId, false, why, next, List.of());
    }

    // ---- writing (never in a dry run) ------------------------------------------------------

    /**
     * Records a job's staged files as downloaded (every file present locally with its listed size),
     * and the files left on the site. When the file list differs from the one recorded before
     * (the site changed), the later milestones are dropped: they were reached for other files.
     */
    public void recordDownload(String jobId, Map<String, Long> files, List<LeftFile> leftOnSite) throws IOException {
        ObjectNode j = node(jobId);
        Job before = job(jobId);
        boolean changed = before == null || !before.files().equals(files);
        if (changed) for (Milestone m : List.of(Milestone.INGESTED, Milestone.UPLOADED, Milestone.PUSHED)) j.remove(m.key());
        ArrayNode fa = j.putArray("files");
        files.forEach((p, s) -> fa.addObject().put("path", p).put("size", s));
        ArrayNode la = j.putArray("left_on_site");
        for (LeftFile l : leftOnSite) la.addObject().put("path", l.path()).put("why", l.why());
        if (leftOnSite.isEmpty()) {
            if (!j.has(Milestone.DOWNLOADED.key())) j.put(Milestone.DOWNLOADED.key(), now());
        } else {
            j.remove(Milestone.DOWNLOADED.key());
        }
        save();
    }

    /** Records that these jobs reached {@code m} now (first time only). */
    public void mark(Collection<String> jobIds, Milestone m) throws IOException {
        boolean changed = false;
        for (String id : jobIds) {
            ObjectNode j = node(id);
            if (!j.has(m.key())) {
                j.put(m.key(), now());
                changed = true;
            }
        }
        if (changed) save();
    }

    /** The archive's photo ids that came from this job (ingest records them; upload and push check them). */
    public void setPhotoIds(String jobId, Collection<String> photoIds) throws IOException {
        ArrayNode a = node(jobId).putArray("photo_ids");
        photoIds.forEach(a::add);
        save();
    }

    private ObjectNode node(String jobId) {
        ObjectNode jobs = (ObjectNode) doc.get("jobs");
        JsonNode j = jobs.get(jobId);
        if (j instanceof ObjectNode o) return o;
        ObjectNode o = jobs.putObject(jobId);
        o.put("job_id", jobId);
        return o;
    }

    private void save() throws IOException {
        if (mode == KitContext.Mode.DRY_RUN) throw new IllegalStateException("a dry run tried to write the job ledger " + file);
        Files.createDirectories(file.getParent());
        JsonFiles.write(file, doc);
    }

    private static String now() {
        return Timestamps.ledger();
    }
}
