export { buildNoCloudSeed, seedInstanceId, seedMetaData, NOCLOUD_VOLUME_ID, type NoCloudSeedInput } from "./nocloud";
