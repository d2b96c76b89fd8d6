///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//JAVA_OPTIONS -Xmx3g
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../steps/ingest_inbox.java

/*
 * seed_archive — builds (or extends) an archive of confirmed people from one folder of photos
 * per person: PEOPLE/<person's name>/*.jpg. Each folder is ingested like an upload (job id
 * "seed-<name>"), and the largest face of each of its photos becomes an anchor of one CONFIRMED
 * identity named after the folder (an existing CONFIRMED identity of that name is extended).
 * Other faces of those photos stay as the INBOX identities the ingest made for them.
 * For trying the pipeline end to end on a sandbox archive, e.g. with ../shared/eval/identities.
 *
 * Options:  --people DIR      one sub-folder per person (folder name = the person's name)
 *           --data-dir D, --photos-dir P, --crops-dir Q, --models-dir M  (the kit's folder options)
 *           --json            one JSON object on stdout
 * Example:  ./jbang sandbox/seed_archive.java --people ../shared/eval/identities/bbt --data-dir sandbox/work/data \
 *             --photos-dir sandbox/work/raw_photos --crops-dir sandbox/work/raw_photos/crops
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "seed_archive", mixinStandardHelpOptions = true, description = {
        "Builds or extends an archive of CONFIRMED people from one folder of photos per person (folder name =",
        "the person's name): ingests each folder and makes the largest face of each photo an anchor of",
        "that person's CONFIRMED identity.", "",
        "Example: ./jbang sandbox/seed_archive.java --people ../shared/eval/identities/bbt --data-dir sandbox/work/data"})
public class seed_archive implements Callable<Integer> {
    @Option(names = "--people", paramLabel = "DIR", required = true, description = "one sub-folder of photos per person")
    Path people;
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.Output out;

    public static void main(String... argv) {
        StepMain.exit(new seed_archive(), argv);
    }

    @Override
    public Integer call() throws Exception {
        KitContext ctx = KitOptions.context(out, folders, false);
        Layout l = ctx.layout();
        ObjectNode s = run(people.toAbsolutePath().normalize(), l.data(), l.photos(), l.crops(), l.models(), ctx.console());
        ctx.console().emitJson(s);
        return StepMain.OK;
    }

    public static ObjectNode run(Path people, Path dataDir, Path photosDir, Path cropsDir, Path modelsDir, Console console) throws Exception {
        if (!Files.isDirectory(people)) throw new KitException("no folder " + people, "give --people a folder with one sub-folder per person");
        List<Path> folders;
        try (Stream<Path> s = Files.list(people)) {
            folders = s.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        }
        if (folders.isEmpty()) throw new KitException(people + " has no sub-folders", "make one folder per person, named after them");
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "seed_archive");
        ArrayNode out = summary.putArray("people");
        try (DataLock lock = DataLock.acquire(dataDir, "seed archive");
             FaceModels models = FaceModels.open(modelsDir, 1)) {
            for (Path folder : folders) {
                String name = folder.getFileName().toString();
                String job = "seed-" + name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
                KitContext ctx = new KitContext(KitConfig.load(), Layout.standard(KitConfig.findRoot()).withData(dataDir)
                        .withPhotos(photosDir).withCrops(cropsDir).withModels(modelsDir), console, KitContext.Mode.APPLY);
                IngestStep.Options o = IngestStep.Options.folders(List.of(new UploadFolder(job, folder)))
                        .withLabels(new UploadFolder.Labels(java.util.Optional.of("seed: " + name), java.util.Optional.of("seed")));
                IngestStep.Result ingested = StepRunner.run(new IngestStep(o, models), ctx).result();
                ArchiveFiles archive = new ArchiveFiles(dataDir);
                ObjectNode index = archive.readPhotoIndex();
                EmbeddingStore store = EmbeddingStore.open(dataDir);
                // The person's face in each photo: the largest one (portraits; group photos need a person to pick).
                List<String> theirs = new ArrayList<>();
                List<String> photoIds = ingested.jobs().get(0).photoIds();
                for (String pid : photoIds) {
                    String best = null;
                    double bestArea = -1;
                    for (JsonNode f : index.path("photos").path(pid).path("face_ids")) {
                        EmbeddingStore.Face face = store.get(f.asText());
                        if (face == null) continue;
                        double area = (face.bbox()[2] - face.bbox()[0]) * (double) (face.bbox()[3] - face.bbox()[1]);
                        if (area > bestArea) {
                            best = face.faceId();
                            bestArea = area;
                        }
                    }
                    if (best != null) theirs.add(best);
                }
                ObjectNode ids = archive.readIdentities();
                ObjectNode all = (ObjectNode) ids.get("identities");
                Set<String> mine = new HashSet<>(theirs);
                // Their faces leave the identities they are in (the INBOX ones the ingest just made); emptied INBOX ones go.
                List<String> emptied = new ArrayList<>();
                for (Iterator<String> it = all.fieldNames(); it.hasNext(); ) {
                    String id = it.next();
                    ObjectNode ident = (ObjectNode) all.get(id);
                    if ("CONFIRMED".equals(ident.path("state").asText()) && name.equals(ident.path("name").asText())) continue;
                    boolean changed = removeFaces(ident, "anchor_ids", mine) | removeFaces(ident, "candidate_ids", mine);
                    if (changed && ident.path("anchor_ids").isEmpty() && ident.path("candidate_ids").isEmpty()
                            && "INBOX".equals(ident.path("state").asText())) emptied.add(id);
                }
                emptied.forEach(all::remove);
                ObjectNode person = null;
                for (JsonNode ident : all) {
                    if ("CONFIRMED".equals(ident.path("state").asText()) && name.equals(ident.path("name").asText()) && !Identities.isMerged(ident)) {
                        person = (ObjectNode) ident;
                    }
                }
                String now = Timestamps.archive();
                if (person == null) {
                    String id = UUID.randomUUID().toString();
                    ObjectNode prov = JsonFiles.object();
                    prov.put("source", "seed_archive");
                    prov.put("folder", folder.toString());
                    person = Identities.newIdentity(id, name, "CONFIRMED", List.of(), prov, now);
                    all.set(id, person);
                } else {
                    person.put("version_id", person.path("version_id").asInt(0) + 1);
                    person.put("updated_at", now);
                }
                Set<String> present = new HashSet<>();
                for (JsonNode a : person.path("anchor_ids")) present.add(a.isObject() ? a.path("face_id").asText() : a.asText());
                ArrayNode anchors = person.withArray("anchor_ids");
                int added = 0;
                for (String f : theirs) if (present.add(f)) { anchors.add(f); added++; }
                archive.writeIdentities(ids);
                console.ok(name + ": " + added + " face" + (added == 1 ? "" : "s") + " added to CONFIRMED identity " + person.get("identity_id").asText());
                ObjectNode row = out.addObject();
                row.put("name", name);
                row.put("identity_id", person.get("identity_id").asText());
                row.put("faces_added", added);
                row.put("photos", photoIds.size());
                row.put("errors", ingested.jobs().get(0).errors().size());
            }
        }
        return summary;
    }

    private static boolean removeFaces(ObjectNode ident, String key, Set<String> faces) {
        JsonNode arr = ident.get(key);
        if (arr == null || !arr.isArray()) return false;
        boolean changed = false;
        ArrayNode a = (ArrayNode) arr;
        for (int i = a.size() - 1; i >= 0; i--) {
            JsonNode e = a.get(i);
            String id = e.isObject() ? e.path("face_id").asText() : e.asText();
            if (faces.contains(id)) {
                a.remove(i);
                changed = true;
            }
        }
        return changed;
    }
}
