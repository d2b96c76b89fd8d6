import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;

/**
 * An archive's identities.json, photo_index.json and embedding store, read side by side: at
 * archive scale each takes a few tenths of a second of a command that waits for all three. A
 * problem is said as a reading in turn would meet it: identities.json's first, then
 * photo_index.json's, then the store's.
 *
 * @param store as {@code openStore} made it (how a step opens its store differs: read-only, with the
 *              legacy file converted, or null when it cannot be read)
 */
public record ArchiveRead(ObjectNode identities, ObjectNode photoIndex, EmbeddingStore store) {

    public static ArchiveRead of(ArchiveFiles files, Callable<EmbeddingStore> openStore) throws Exception {
        FutureTask<EmbeddingStore> store = BackgroundWork.start("embedding-store", openStore);
        FutureTask<ObjectNode> index = BackgroundWork.start("photo-index", files::readPhotoIndex);
        ObjectNode identities;
        try {
            identities = files.readIdentities();
        } finally {
            // none is left at work behind a failure (the store may be writing a converted copy)
            BackgroundWork.settle(index);
            BackgroundWork.settle(store);
        }
        ObjectNode photoIndex = BackgroundWork.result(index);
        return new ArchiveRead(identities, photoIndex, BackgroundWork.result(store));
    }
}
