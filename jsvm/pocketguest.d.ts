// PocketGuest globals (github.com/pocketguest/pocketguest/jsvm).
// Written next to PocketBase's types.d.ts and appended to it, so the
// `/// <reference path="types.d.ts" />` line of pb_hooks files covers it.

declare namespace pocketguest {
  interface SignInOptions {
    /** The auth collection to create and sign the guest in. Default "users". */
    collection?: string
    /** Create a new guest even if the request already has a guest session. */
    fresh?: boolean
  }

  interface AuthData {
    /** The guest's auth token (also set in the pb_auth cookie). */
    token: string
    /** The guest record: record.id, record.email(), record.get("isAnonymous"). */
    record: core.Record
  }

  /**
   * Thrown by the PocketGuest functions: an Error with the HTTP status of the
   * failure (404 unknown collection, 400 not an auth collection, 403 not
   * enabled, 429 rate limited, ...).
   */
  interface GuestError extends Error {
    status: number
    data: { [key: string]: any }
  }

  interface RedirectOptions {
    /** 3xx status, default 302. */
    status?: number
    /** Added to the target URL as the __flash query parameter. */
    message?: string
  }

  interface CookieOptions {
    path?: string
    domain?: string
    maxAge?: number
    expires?: Date | string
    httpOnly?: boolean
    secure?: boolean
    sameSite?: 'lax' | 'strict' | 'none' | boolean
  }

  /** request in templates/ pages. */
  interface PageRequest {
    /** Upper case, e.g. "POST". */
    method: string
    url: { pathname: string; search: string; query: { [key: string]: string }; href: string; toString(): string }
    /** The signed-in record (from the pb_auth cookie or Authorization header), or null. */
    auth: core.Record | null
    authToken: string
    /** A request header, '' if missing. */
    header(name: string): string
    /** All cookies, or one; values are URI-decoded and JSON-parsed when possible. */
    cookies(): { [name: string]: any }
    cookies(name: string): any
    body(): { [key: string]: any }
    formData(): { [key: string]: any }
    event: core.RequestEvent
  }

  interface PageResponse {
    status(code?: number): number
    header(name: string, value?: string): string
    cookie(name: string, value: any, options?: CookieOptions): string
    json(status: number, data: any): void
    html(status: number, html: string): void
    redirect(path: string, status?: number): void
    write(s: string): void
  }

  /** The page context: templates get its members as locals, modules as `api`. */
  interface PageApi {
    request: PageRequest
    response: PageResponse
    /** Route params and query values (a route param wins). */
    params: { [key: string]: string }
    body(): { [key: string]: any }
    formData(): { [key: string]: any }
    auth: core.Record | null
    data: { [key: string]: any }
    /** Answers with a redirect and stops the render (even inside try/catch). */
    redirect(path: string | { toString(): string }, options?: RedirectOptions): void
    /** _private/<name>(.js|.json), searched from the page's folder upwards. */
    resolve(name: string): any
    meta(key: string, value?: any): any
    echo(...values: any[]): string
    env(name: string): string
    store(name: string, value?: any): any
    dbg(...values: any[]): void
    info(...values: any[]): void
    warn(...values: any[]): void
    error(...values: any[]): void
    /** Creates a guest, signs this request in (cookie included) and returns it. */
    signInAnonymously(options?: SignInOptions): AuthData
    /** Expires the pb_auth cookie; request.auth becomes null. */
    signOut(): void
    /** Turns the page's guest into a regular account in place (same id). */
    upgradeAnonymous(input: UpgradeInput): AuthData
    /** Deletes the page's guest and its session ("forget me"); request.auth becomes null. */
    deleteAnonymous(): void
    /** A session from auth data obtained elsewhere (the token is verified). */
    signIn(authData: { token: string }): AuthData
    signInWithPassword(email: string, password: string, options?: { collection?: string }): AuthData
    /** Creates the account and signs in; a guest of that collection is upgraded in place. */
    registerWithPassword(email: string, password: string, options?: { collection?: string; sendVerificationEmail?: boolean }): AuthData
    requestOTP(email: string, options?: { collection?: string }): { otpId: string }
    signInWithOTP(otpId: string, password: string, options?: { collection?: string }): AuthData
    /** Redirects to the provider (autoRedirect, default) or returns its URL. */
    requestOAuth2Login(provider: string, options?: { collection?: string; redirectPath?: string; autoRedirect?: boolean }): string
    /** On the redirectPath page: signInWithOAuth2(params.state, params.code). */
    signInWithOAuth2(state: string, code: string): AuthData
    /** URL of a static file with a content fingerprint (served with a 1-year cache). */
    asset(path: string): string
    /** In layouts: the content (print it) or a named slot (call it). */
    slot: ((name?: string) => string) & string
    /** In layouts: the named slots of the content. */
    slots: { [name: string]: string }
    api: PageApi
  }

  interface UpgradeInput {
    email: string
    password: string
    passwordConfirm: string
    name?: string
  }
}

/**
 * Creates a guest record in options.collection (default "users"), signs the
 * request in as it (e.Auth and the pb_auth cookie) and returns {token, record}.
 * Throws a pocketguest.GuestError (.message, .status) on failure.
 *
 * In templates/ pages and their modules, `e` may be omitted.
 */
declare function signInAnonymously(e: core.RequestEvent, options?: pocketguest.SignInOptions): pocketguest.AuthData
declare function signInAnonymously(options?: pocketguest.SignInOptions): pocketguest.AuthData

/**
 * Turns the request's guest into a regular account in place (same record id,
 * isAnonymous=false) and returns a fresh {token, record}; the cookie follows.
 * In pages, `e` may be omitted.
 */
declare function upgradeAnonymous(e: core.RequestEvent, input: pocketguest.UpgradeInput): pocketguest.AuthData
declare function upgradeAnonymous(input: pocketguest.UpgradeInput): pocketguest.AuthData

/**
 * Deletes the request's own guest record and clears the pb_auth cookie.
 * Throws 400 for a full account, 401 without a session, 404 when disabled.
 * In pages, `e` may be omitted.
 */
declare function deleteAnonymous(e?: core.RequestEvent): void

/**
 * Registers a handler run (inside the merge transaction) when a guest is
 * linked into an existing account: e.anonymous, e.account, e.app,
 * e.requestEvent (null from Go). Call e.next() to merge; return without it to
 * keep the guest apart and let the sign-in go on; throw to abort the sign-in
 * with nothing lost. Before e.next(), e.skipRelations = ["shares",
 * "teams.members"] leaves those relations on the guest, and
 * e.transferRelations / e.deleteAnonymous switch the default action's parts.
 */
declare function onAnonymousLink(handler: (e: {
  anonymous: core.Record
  account: core.Record
  app: CoreApp
  requestEvent: core.RequestEvent | null
  authMethod: string
  transferRelations: boolean
  skipRelations: string[]
  deleteAnonymous: boolean
  transferred: number
  next(): void
  [key: string]: any
}) => void): void

/** Expires the pb_auth cookie and clears e.Auth. In pages, `e` may be omitted. */
declare function signOut(e?: core.RequestEvent): void

/**
 * What a new guest of `collection` (default "users") must solve when bot
 * protection is on (`--anonChallenge`), or null when it is off. A page
 * renders the widget from it; signInAnonymously() then reads the solution
 * from the submitted form field `field`. See docs/bot-protection.md.
 */
declare function anonymousChallenge(collection?: string): null | {
  /** "pow", "turnstile", "hcaptcha" or "recaptcha" */
  provider: string
  /** the form/JSON field of the solution: "altcha", "cf-turnstile-response", ... */
  field: string
  /** pow: the challenge endpoint, for <altcha-widget challenge="..."> */
  url: string
  /** pow: the altcha widget script served by the binary */
  widgetUrl: string
  /** captcha providers: the public site key */
  siteKey: string
}
