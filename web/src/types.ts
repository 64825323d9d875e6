// The shapes of the API's answers the page reads (DESIGN.md sections 2, 4 and 5).

export type Status = "uploading" | "pending" | "queued" | "processing" | "completed" | "failed" | "quarantined";

export interface FileObject {
  file_id: string;
  filename: string;
  /** csv, pdf, docx, xlsx, jpeg, png or webp; empty while uploading. */
  file_type: string;
  content_type: string;
  /** Bytes. */
  size: number;
  sha256: string;
  status: Status;
  /** 0..1 of the current status's work. */
  progress: number;
  purpose: string | null;
  uploaded_at: string;
  processed_at: string | null;
  error: { code: string; message: string } | null;
  virus_scan: { clean: boolean; threats: string[]; scanned_at: string; scanner: string } | null;
}

export interface FileList {
  files: FileObject[];
  next_cursor: string | null;
  has_more: boolean;
}

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface RecordsPage {
  file_id: string;
  sheet: string | null;
  offset: number;
  limit: number;
  total: number;
  next_offset: number | null;
  records: Row[];
}

export interface Thumbnail {
  size: number;
  width: number;
  height: number;
  format: string;
  url: string;
}

export interface Column {
  name: string;
  type: string;
  null_count: number;
  distinct_estimate: number;
  min: Cell;
  max: Cell;
  mean: number | null;
  min_length: number | null;
  max_length: number | null;
}

export interface CsvSection {
  encoding: string;
  delimiter: string;
  quote: string;
  has_header: boolean;
  row_count: number;
  column_count: number;
  columns: Column[];
  malformed_rows: number;
  records_count: number;
}

export interface Sheet {
  name: string;
  visible: string;
  kind: string;
  rows: number;
  columns: number;
  dimension: string;
  used_range: string | null;
  header: string[];
  records_count: number;
  cell_count: number;
  formula_count: number;
  /** Per-column statistics of the sheet's records (the same shape as CSV's `columns`). */
  columns_stats?: Column[];
  /** Why the sheet could not be read, when it could not. */
  error: string | null;
}

export interface Properties {
  title?: string | null;
  creator?: string | null;
  author?: string | null;
  subject?: string | null;
  keywords?: string | null;
  description?: string | null;
  last_modified_by?: string | null;
  creator_tool?: string | null;
  producer?: string | null;
  created?: string | null;
  modified?: string | null;
  [key: string]: string | null | undefined;
}

export interface XlsxSection {
  sheets: Sheet[];
  sheet_count: number;
  formula_count: number;
  cell_count: number;
  date_system: number;
  core_properties: Properties | null;
}

export interface PdfSection {
  page_count: number;
  pdf_version: string;
  encrypted: boolean;
  page_sizes: { width: number; height: number; rotation: number; pages: number }[];
  info: Properties;
  text: string;
  text_length: number;
  word_count: number;
  has_images: boolean;
}

export interface DocxSection {
  text: string;
  text_truncated: boolean;
  paragraph_count: number;
  word_count: number;
  character_count: number;
  table_count: number;
  image_count: number;
  headings: { level: number; text: string }[];
  core_properties: Properties | null;
}

export interface ImageSection {
  width: number;
  height: number;
  display_width?: number;
  display_height?: number;
  color_type: string;
  bit_depth: number;
  has_alpha: boolean;
  animated: boolean;
  frame_count: number;
  exif: Record<string, unknown> | null;
  icc_profile: unknown;
}

export interface Result {
  file_id: string;
  file_type: string;
  status: string;
  processing_ms: number;
  size: number;
  sha256: string;
  warnings: (string | { code?: string; message?: string })[];
  thumbnails: Thumbnail[];
  converted?: { url: string; format: string; bytes?: number } | null;
  csv?: CsvSection;
  xlsx?: XlsxSection;
  pdf?: PdfSection;
  docx?: DocxSection;
  jpeg?: ImageSection;
  png?: ImageSection;
  webp?: ImageSection;
}

/** One WebSocket frame (DESIGN.md section 5). */
export interface ProgressFrame {
  type: "connected" | "status_change" | "progress" | "completed" | "error";
  file_id: string;
  timestamp: string;
  progress?: number;
  data?: {
    status?: Status;
    step?: string | null;
    old_status?: Status | null;
    new_status?: Status;
    progress?: number | null;
    message?: string | null;
    bytes_done?: number;
    bytes_total?: number | null;
    [key: string]: unknown;
  };
  error?: { code: string; message: string };
}
