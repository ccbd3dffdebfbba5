import CNIOLLHTTP

/// Frames one HTTP/1.x response with llhttp (the parser of Node.js, which SwiftNIO
/// builds in) straight on the bytes: no channel pipeline, no allocation per header.
///
/// The framing (status line, headers, Content-Length, chunked encoding, trailers, a
/// body that ends with the connection) is llhttp's, with no leniency switched on.
/// This type only keeps what a health check needs: the final status (interim 1xx
/// answers are skipped), one header's value, and at most `maxBody` bytes of body.
/// A test and the fuzz harness hold it to the same answers as NIOHTTP1's
/// `HTTPResponseDecoder` on the same bytes.
final class HTTPResponseFramer {
    enum Progress: Equatable {
        case needMore
        /// The whole response, or its first `maxBody` bytes of body (`truncated`).
        case complete
        case failed(Failure)
    }

    enum Failure: Equatable {
        case invalid(String)
        case headersTooLarge
        /// The connection ended before the response did; `bodyBytes` had been read.
        case cutShort(bodyBytes: Int)
        /// The connection ended with no response at all.
        case nothing
    }

    /// The most bytes of header names and values (trailers included) a response may have,
    /// counted as NIOHTTP1's decoder counts them.
    static let headerLimit = 16 * 1024

    private let parser: UnsafeMutablePointer<llhttp_t>
    private(set) var isHead: Bool
    private(set) var maxBody: Int
    /// Lowercased names of the headers whose values are kept (capacity, lag).
    private(set) var wantedHeaders: [[UInt8]]

    private(set) var status = 0
    private(set) var body: [UInt8] = []
    private(set) var truncated = false
    /// The first value of each wanted header, by its index in `wantedHeaders`.
    private(set) var wantedValues: [Int: [UInt8]] = [:]
    private var progress = Progress.needMore
    private var headerBytes = 0
    private var sawBytes = false
    private var inHead = true
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var matching: Int?

    convenience init(isHead: Bool, maxBody: Int, wantedHeaders: [String]) {
        self.init(isHead: isHead, maxBody: maxBody, wantedHeaders: Self.wanted(wantedHeaders))
    }

    /// `wantedHeaders` as ``wanted(_:)`` gives them.
    init(isHead: Bool, maxBody: Int, wantedHeaders: [[UInt8]]) {
        self.isHead = isHead
        self.maxBody = max(0, maxBody)
        self.wantedHeaders = wantedHeaders
        self.parser = .allocate(capacity: 1)
        c_nio_llhttp_init(self.parser, HTTP_RESPONSE, Self.settings)
    }

    /// Header names as `wantedHeaders` holds them (work done once per endpoint).
    static func wanted(_ names: [String]) -> [[UInt8]] {
        names.map { Array($0.lowercased().utf8) }
    }

    /// Makes this framer as new, for another answer: a probe loop reuses its framers
    /// rather than allocating one (and an llhttp parser) per probe.
    func reset(isHead: Bool, maxBody: Int, wantedHeaders: [[UInt8]]) {
        self.isHead = isHead
        self.maxBody = max(0, maxBody)
        self.wantedHeaders = wantedHeaders
        self.status = 0
        // A pooled framer keeps a small body's room, not a large one's.
        self.body.removeAll(keepingCapacity: self.body.capacity <= 4096)
        self.truncated = false
        if !self.wantedValues.isEmpty { self.wantedValues = [:] }
        self.progress = .needMore
        self.headerBytes = 0
        self.sawBytes = false
        self.inHead = true
        self.field.removeAll(keepingCapacity: true)
        self.value.removeAll(keepingCapacity: true)
        self.matching = nil
        c_nio_llhttp_init(self.parser, HTTP_RESPONSE, Self.settings)
    }

    deinit {
        self.parser.deallocate()
    }

    /// A wanted header's value, as text (`name` is matched without regard to case).
    func headerValue(_ name: String) -> String? {
        let wanted = Array(name.lowercased().utf8)
        guard let index = self.wantedHeaders.firstIndex(of: wanted) else { return nil }
        return self.wantedValues[index].map { String(decoding: $0, as: UTF8.self) }
    }

    /// Parses the next bytes of the answer.
    func feed(_ bytes: UnsafeRawBufferPointer) -> Progress {
        guard self.progress == .needMore, let base = bytes.baseAddress, bytes.count > 0 else { return self.progress }
        self.sawBytes = true
        self.parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let code = c_nio_llhttp_execute(self.parser, base.assumingMemoryBound(to: CChar.self), bytes.count)
        return self.settle(code)
    }

    /// The connection ended: the response is complete if it may end here.
    func finish() -> Progress {
        guard self.progress == .needMore else { return self.progress }
        guard self.sawBytes else {
            self.progress = .failed(.nothing)
            return self.progress
        }
        self.parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let code = c_nio_llhttp_finish(self.parser)
        guard self.progress == .needMore else { return self.progress }
        if !self.inHead {
            self.progress = .failed(.cutShort(bodyBytes: self.body.count))
        } else if code != HPE_OK {
            self.progress = .failed(.invalid("the answer ends inside its head (\(String(cString: c_nio_llhttp_errno_name(code))))"))
        } else {
            self.progress = .failed(.nothing)  // at most interim answers
        }
        return self.progress
    }

    private func settle(_ code: llhttp_errno_t) -> Progress {
        switch code {
        case HPE_OK, HPE_PAUSED:
            break
        case HPE_USER:
            break  // a callback stopped the parse and said why
        default:
            if self.progress == .needMore {
                let reason = c_nio_llhttp_get_error_reason(self.parser).map { String(cString: $0) } ?? ""
                let name = String(cString: c_nio_llhttp_errno_name(code))
                self.progress = .failed(.invalid("\(name): \(reason)"))
            }
        }
        return self.progress
    }

    // MARK: what llhttp reports

    private func count(_ length: Int) -> Int32 {
        self.headerBytes += length
        guard self.headerBytes <= Self.headerLimit else {
            self.progress = .failed(.headersTooLarge)
            return Int32(HPE_USER.rawValue)
        }
        return 0
    }

    private func headersComplete() -> Int32 {
        guard self.parser.pointee.http_major == 1 else {
            self.progress = .failed(.invalid("HTTP/\(self.parser.pointee.http_major).\(self.parser.pointee.http_minor) is not HTTP/1.x"))
            return Int32(HPE_USER.rawValue)
        }
        self.inHead = false
        self.status = Int(self.parser.pointee.status_code)
        // No body: answers to HEAD, interim 1xx, 204 and 304, whatever their headers say
        // (RFC 9112; llhttp alone honours this only without length headers).
        let status = self.status
        return self.isHead || (100..<200).contains(status) && status != 101 || status == 204 || status == 304 ? 1 : 0
    }

    private func bodyData(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let room = self.maxBody - self.body.count
        if bytes.count > room {
            self.body.append(contentsOf: bytes.prefix(room))
            self.truncated = true
            self.progress = .complete
            return Int32(HPE_USER.rawValue)
        }
        self.body.append(contentsOf: bytes)
        return 0
    }

    private func messageComplete() -> Int32 {
        // llhttp keeps the last length for the next message (nodejs/llhttp#202).
        self.parser.pointee.content_length = 0
        if (100..<200).contains(self.status), self.status != 101 {
            // An interim answer: the real one follows on the same connection.
            self.status = 0
            self.headerBytes = 0
            self.inHead = true
            self.wantedValues = [:]
            return 0
        }
        self.progress = .complete
        return Int32(HPE_PAUSED.rawValue)
    }

    private func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if !self.wantedHeaders.isEmpty, self.inHead { self.field.append(contentsOf: bytes) }
        return self.count(bytes.count)
    }

    private func headerFieldComplete() {
        if !self.wantedHeaders.isEmpty, self.inHead {
            self.matching = self.wantedHeaders.indices.first { index in
                let wanted = self.wantedHeaders[index]
                return self.wantedValues[index] == nil && self.field.count == wanted.count
                    && zip(self.field, wanted).allSatisfy { a, b in (a >= 65 && a <= 90 ? a + 32 : a) == b }
            }
            self.field.removeAll(keepingCapacity: true)
            self.value.removeAll(keepingCapacity: true)
        }
    }

    private func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if self.matching != nil { self.value.append(contentsOf: bytes) }
        return self.count(bytes.count)
    }

    private func headerValueComplete() {
        if let index = self.matching {
            self.wantedValues[index] = self.value
            self.matching = nil
        }
    }

    // MARK: the callbacks, shared by every framer

    private static func framer(_ parser: UnsafeMutablePointer<llhttp_t>?) -> HTTPResponseFramer {
        Unmanaged<HTTPResponseFramer>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }

    private static func bytes(_ at: UnsafePointer<CChar>?, _ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: at, count: at == nil ? 0 : length)
    }

    nonisolated(unsafe) static let settings: UnsafeMutablePointer<llhttp_settings_t> = {
        let settings = UnsafeMutablePointer<llhttp_settings_t>.allocate(capacity: 1)
        c_nio_llhttp_settings_init(settings)
        settings.pointee.on_message_begin = { parser in
            framer(parser).headerBytes = 0
            return 0
        }
        settings.pointee.on_header_field = { parser, at, length in framer(parser).headerField(bytes(at, length)) }
        settings.pointee.on_header_field_complete = { parser in
            framer(parser).headerFieldComplete()
            return 0
        }
        settings.pointee.on_header_value = { parser, at, length in framer(parser).headerValue(bytes(at, length)) }
        settings.pointee.on_header_value_complete = { parser in
            framer(parser).headerValueComplete()
            return 0
        }
        settings.pointee.on_headers_complete = { parser in framer(parser).headersComplete() }
        settings.pointee.on_body = { parser, at, length in framer(parser).bodyData(bytes(at, length)) }
        settings.pointee.on_message_complete = { parser in framer(parser).messageComplete() }
        return settings
    }()
}
