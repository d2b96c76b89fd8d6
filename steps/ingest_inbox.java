///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx3g -XX:TieredStopAtLevel=1
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/CrashPoint.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/ModelCatalog.java ../lib/Photos.java
//SOURCES ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java
//SOURCES ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/NpyPickleReader.java
//SOURCES ../lib/FaceGrouping.java ../lib/MatchThresholds.java ../lib/Identities.java
//SOURCES ../lib/UploadFolder.java ../lib/PhotoAnalysis.java ../lib/FaceSearchOptions.java ../lib/PhotoRegistration.java ../lib/InboxIdentities.java
//SOURCES ../lib/IngestStep.java ../lib/PlannedArchive.java ../lib/BackgroundWork.java ../lib/ArchiveRead.java ../lib/ArchiveSnapshot.java ../lib/ModelCheck.java
//SOURCES ../lib/FaceDistances.java

/*
 * Step 3 — ingest: finds, aligns and embeds the faces of every photo of the upload jobs, keeps
 * the photos (raw_photos/<name>) and one crop per face (raw_photos/crops/<face_id>.jpg), adds
 * the vectors to the embedding store, registers photos and faces in photo_index.json, and
 * groups each job's new faces into new INBOX identities ("Unidentified Person NNN"). A job
 * whose every file is now in the archive is recorded as ingested in data/runs/jobs.json.
 *
 * Both archive files and the embedding store are checked before anything is written. Damaged
 * files, HEIC photos, photos above the pixel limit and duplicates are reported per file and
 * the batch goes on; a job with a file that could not be added is not ingested (it stays
 * staged on the site). A run killed at any point is finished by running it again.
 *
 * Which jobs:  (none)                  every job the ledger shows downloaded and not ingested
 *              --job-id ID             the job in raw_photos/pending/ID
 *              --directory DIR --job-id ID   every photo under DIR as job ID (DIR may be the pending folder)
 *              --directory DIR         every sub-folder of DIR as a job named after it
 * Options:     --source S, --collection C   label every photo (default: the job's _metadata.json)
 *              --min-face PX           smallest face looked for (default 20 px; faces under 30 px are kept but never proposed)
 *              --max-megapixels N      refuse photos above N megapixels, read from the header (default 100)
 *              --data-dir, --photos-dir, --crops-dir, --pending-dir, --models-dir   the archive's folders
 *              --dry-run               analyse and print per photo what would be added; write nothing
 *              --json                  one JSON object on stdout
 * Example:     ./jbang ingest --directory raw_photos/pending/a1b2c3d4 --job-id a1b2c3d4 --dry-run
 */
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "ingest", mixinStandardHelpOptions = true,
        description = {"Step 3: find, align and embed the faces of the upload jobs' photos, keep the photos and one crop per face,",
                "register them in photo_index.json and group the new faces into new INBOX identities.",
                "Without --directory/--job-id: every job the ledger shows downloaded and not yet ingested.", "",
                "Example: ./jbang ingest --directory raw_photos/pending/a1b2c3d4 --job-id a1b2c3d4 --dry-run"})
public class ingest_inbox implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;
    @Mixin FaceSearchOptions search;

    @Option(names = "--directory", paramLabel = "DIR", description = "the photos to ingest (searched recursively); without --job-id each sub-folder is a job")
    Path directory;
    @Option(names = "--job-id", paramLabel = "ID", description = "the upload job (face ids are derived from it); alone: the folder pending/ID")
    String jobId;
    @Option(names = "--source", paramLabel = "S", description = "source of every photo (default: the job's _metadata.json)")
    String source;
    @Option(names = "--collection", paramLabel = "C", description = "collection of every photo (default: the job's _metadata.json)")
    String collection;

    public static void main(String... argv) {
        if (!StepMain.onlyHelp(argv)) PhotoAnalysis.warmUpInBackground();
        StepMain.exit(new ingest_inbox(), argv);
    }

    @Override
    public Integer call() throws Exception {
        search.check();
        KitContext ctx = KitOptions.context(out, folders, dryRun.dryRun);
        IngestStep.Options o = IngestStep.Options.downloadedJobs()
                .withLabels(new UploadFolder.Labels(Optional.ofNullable(source), Optional.ofNullable(collection)))
                .withMinFace(search.minFace).withMaxMegapixels(search.maxMegapixels);
        List<UploadFolder> chosen = chosenFolders(ctx.layout());
        if (!chosen.isEmpty()) o = o.withFolders(chosen);
        return StepRunner.runScript(new IngestStep(o), ctx);
    }

    /** The folders the command line names; empty: the ledger's downloaded jobs. */
    List<UploadFolder> chosenFolders(Layout layout) throws IOException {
        if (directory == null && jobId == null) return List.of();
        if (jobId != null && jobId.isBlank()) throw new StepMain.UsageException("--job-id must not be empty");
        if (directory == null) return List.of(new UploadFolder(jobId, layout.pending().resolve(jobId)));
        Path dir = directory.toAbsolutePath().normalize();
        if (jobId != null || !Files.isDirectory(dir)) return List.of(new UploadFolder(jobId == null ? dir.getFileName().toString() : jobId, dir));
        List<UploadFolder> jobs = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) && !n.startsWith(".")) jobs.add(new UploadFolder(n, p));
                else if (Files.isRegularFile(p) && !n.startsWith(".") && Photos.looksLikePhoto(n)) {
                    throw new StepMain.UsageException(dir + " holds photos itself (e.g. " + Names.printable(n)
                            + "), not one folder per job: give --job-id ID to ingest them as job ID");
                }
            }
        }
        if (jobs.isEmpty()) throw new StepMain.UsageException(dir + " has no job folders: give --job-id ID to ingest its photos as job ID");
        return jobs;
    }
}
