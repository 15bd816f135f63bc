// The vim25 (vSphere SOAP) wire client used by the vSphere driver.
export { VimClient, type VimConnectOptions, type ServiceContent, type About } from "./client";
export { connect, closeAllSessions } from "./session";
export * from "./faults";
export { MoRef, element, envelope, escapeXml, type XmlObject, type XmlValue, type AnyTyped } from "./xml";
export { parseXml, child, children, text, num, bool, moref, morefs, xsiType, arrayItems, toXmlValue, type XNode } from "./node";
export {
  retrieveProperties,
  getProperties,
  getPropertiesOfMany,
  type ObjectContent,
  type PropertyFilterSpec,
  type PropertySpec,
  type ObjectSpec,
  type TraversalSpec,
} from "./property";
export { waitForTask, runTask, type TaskProgress, type WaitOptions } from "./task";
export { lookup, findByInventoryPath, findChild, pathSegment, InventoryNotFoundError, type InventoryKind } from "./inventory";
