///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx3g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/CrashPoint.java ../lib/Backups.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/ModelCatalog.java ../lib/Photos.java
//SOURCES ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java
//SOURCES ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/NpyPickleReader.java
//SOURCES ../lib/FaceGrouping.java ../lib/FaceDistances.java ../lib/MatchThresholds.java ../lib/Identities.java
//SOURCES ../lib/UploadFolder.java ../lib/PhotoAnalysis.java ../lib/FaceSearchOptions.java ../lib/PhotoRegistration.java ../lib/InboxIdentities.java
//SOURCES ../lib/StoreSettings.java ../lib/StoreErrors.java ../lib/Checksums.java ../lib/Md5Cache.java
//SOURCES ../lib/UploadPlan.java ../lib/ObjectTransfer.java ../lib/SignedPut.java ../lib/ObjectStore.java ../lib/WideWriteConnection.java
//SOURCES ../lib/RescanStep.java ../lib/PlannedArchive.java ../lib/BackgroundWork.java ../lib/ArchiveRead.java ../lib/ArchiveSnapshot.java ../lib/ModelCheck.java

/*
 * rescan — runs today's face detector over photos already in the archive and adds the faces the
 * earlier pipeline missed: a face found now is new when its box overlaps every stored box of the
 * photo by IoU < 0.3. New faces get crops, vectors, face ids in photo_index.json and new INBOX
 * identities ("Unidentified Person NNN", grouped by the usual rules); faces under 30 px are kept
 * but never proposed. Existing face ids, boxes and identities are never changed. A backup of
 * identities.json and photo_index.json comes first; a run killed at any point is finished by
 * running it again (same face ids).
 *
 * A photo not in raw_photos/ is fetched from the bucket (R2_* settings, key raw_photos/<name>)
 * into .kit/rescan-photos/ — never into the archive, so --dry-run changes nothing there; the copy
 * is removed once its faces are added. A photo missing in both places, damaged, or whose stored
 * faces have no box is one failure line naming it; the rest goes on (exit 1).
 * Afterwards ./jbang upload --execute sends the new crops, and ./jbang push the records.
 *
 * Which photos:  (none)              every photo of the archive
 *                --photo ID          this photo (its id in photo_index.json, or its file name); repeatable
 *                --since DATE        photos ingested at or after DATE (2026-02-01 or 2026-02-01T10:00:00+00:00);
 *                                    photos of the earlier pipeline carry no ingested_at and are left out
 * Options:       --min-face PX       smallest face looked for (default 20 px)
 *                --max-megapixels N  refuse photos above N megapixels, read from the header (default 100)
 *                --data-dir, --photos-dir, --crops-dir, --pending-dir, --models-dir   the archive's folders
 *                --dry-run           analyse and print per photo how many new faces; change nothing
 *                --json              one JSON object on stdout
 * Example:       ./jbang rescan --photo 3f2a9c01d4e5b6a7 --dry-run
 */
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "rescan", mixinStandardHelpOptions = true,
        description = {"Run today's face detector over photos already in the archive and add the faces",
                "that overlap no stored face (IoU < 0.3): crops, vectors, face ids and new INBOX",
                "identities. Existing faces and identities never change. Photos not on this",
                "computer are fetched from the bucket into the kit's cache (.kit/rescan-photos/).", "",
                "Example: ./jbang rescan --photo 3f2a9c01d4e5b6a7 --dry-run"})
public class rescan implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;
    @Mixin FaceSearchOptions search;

    @Option(names = "--photo", paramLabel = "ID", description = "rescan this photo (id in photo_index.json, or file name); repeatable")
    List<String> photos = new ArrayList<>();
    @Option(names = "--since", paramLabel = "DATE", description = "rescan photos ingested at or after DATE (YYYY-MM-DD, local midnight, or an ISO date-time with offset)")
    String since;

    public static void main(String... argv) {
        StepMain.exit(new rescan(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (!photos.isEmpty() && since != null) throw new StepMain.UsageException("--photo and --since do not go together: give one of them");
        search.check();
        RescanStep.Options o = RescanStep.Options.all().withMinFace(search.minFace).withMaxMegapixels(search.maxMegapixels);
        if (!photos.isEmpty()) o = o.withPhotos(photos);
        if (since != null) o = o.withSince(parseDate(since));
        KitContext ctx = KitOptions.context(out, folders, dryRun.dryRun);
        return StepRunner.runScript(new RescanStep(o), ctx);
    }

    static Instant parseDate(String s) {
        try {
            return LocalDate.parse(s).atStartOfDay(ZoneId.systemDefault()).toInstant();
        } catch (DateTimeParseException notADay) {
            try {
                return OffsetDateTime.parse(s).toInstant();
            } catch (DateTimeParseException e) {
                throw new StepMain.UsageException("--since " + s + " is not a date: give YYYY-MM-DD or e.g. 2026-02-01T10:00:00+00:00");
            }
        }
    }
}
