import { describe, expect, it } from 'vitest'
import { autoMap, normalizeFieldName } from '../../src/mapping/auto-map.js'
import { field } from './entities.js'

const text = (...names: string[]) => names.map((n) => field(n, 'text'))

describe('normalizeFieldName', () => {
  it('ignores case, spaces, underscores and hyphens', () => {
    expect(normalizeFieldName('AlbumId')).toBe('albumid')
    expect(normalizeFieldName('album_id')).toBe('albumid')
    expect(normalizeFieldName('Album Id')).toBe('albumid')
    expect(normalizeFieldName('album-id')).toBe('albumid')
    expect(normalizeFieldName('ALBUM__ID')).toBe('albumid')
  })
})

describe('autoMap', () => {
  it('maps AlbumId to album_id and keeps source order', () => {
    const pairs = autoMap(text('AlbumId', 'Title', 'ArtistId'), text('artist_id', 'album_id', 'title'))
    expect(pairs).toEqual([
      { source: 'AlbumId', destination: 'album_id' },
      { source: 'Title', destination: 'title' },
      { source: 'ArtistId', destination: 'artist_id' },
    ])
  })

  it('maps every source field to its own name when the destination will be created', () => {
    expect(autoMap(text('AlbumId', 'Title'), undefined)).toEqual([
      { source: 'AlbumId', destination: 'AlbumId' },
      { source: 'Title', destination: 'Title' },
    ])
  })

  it('lets an exact name win over a normalized one', () => {
    // Both 'album_id' and 'AlbumId' normalize alike; the exact one is taken.
    const pairs = autoMap(text('album_id'), text('AlbumId', 'album_id'))
    expect(pairs).toEqual([{ source: 'album_id', destination: 'album_id' }])
  })

  it('lets an exact match on one source field leave the other normalized match free', () => {
    const pairs = autoMap(text('AlbumId', 'album_id'), text('album_id', 'Album Id'))
    expect(pairs).toEqual([
      { source: 'AlbumId', destination: 'Album Id' },
      { source: 'album_id', destination: 'album_id' },
    ])
  })

  it('skips a source field that matches several destination fields', () => {
    const pairs = autoMap(text('AlbumId', 'Title'), text('album_id', 'Album Id', 'title'))
    expect(pairs).toEqual([{ source: 'Title', destination: 'title' }])
  })

  it('skips source fields that compete for one destination field', () => {
    const pairs = autoMap(text('AlbumId', 'Album Id', 'Title'), text('album_id', 'title'))
    expect(pairs).toEqual([{ source: 'Title', destination: 'title' }])
  })

  it('leaves out excluded fields, matched by normalized name', () => {
    const source = text('CustomerId', 'PasswordHash', 'Email')
    expect(autoMap(source, text('customer_id', 'password_hash', 'email'), { exclude: ['password_hash'] })).toEqual([
      { source: 'CustomerId', destination: 'customer_id' },
      { source: 'Email', destination: 'email' },
    ])
    expect(autoMap(source, undefined, { exclude: ['PasswordHash'] }).map((p) => p.source)).toEqual(['CustomerId', 'Email'])
  })

  it('maps nothing for fields the destination lacks', () => {
    expect(autoMap(text('Secret'), text('id'))).toEqual([])
  })
})
